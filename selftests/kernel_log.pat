WARNING:
BUG:
Oops
general protection
Call Trace
Kernel panic
UBSAN:
KASAN:
KFENCE:
ODEBUG:
unreferenced object
still has objects
Objects remaining
possible recursive locking
circular locking
inconsistent lock state
suspicious RCU usage
sleeping function called from invalid context
rcu: INFO:
self-detected stall
detected stalls
blocked for more than
soft lockup
sockfan: .* still held
