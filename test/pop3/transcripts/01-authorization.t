# Greeting, CAPA before login (loopback: plaintext allowed), USER/PASS, state errors before login.
S: +OK Roost POP3 server ready.
C: CAPA
S: +OK Capability list follows.
S: TOP
S: UIDL
S: RESP-CODES
S: AUTH-RESP-CODE
S: PIPELINING
S: USER
S: SASL PLAIN LOGIN
S: STLS
S: EXPIRE NEVER
S: IMPLEMENTATION Roost
S: .
# transaction commands before login
C: RETR 1
S: -ERR Command not valid before login.
C: STAT
S: -ERR Command not valid before login.
C: LIST
S: -ERR Command not valid before login.
C: DELE 1
S: -ERR Command not valid before login.
# PASS without USER
C: PASS secret
S: -ERR No username given; send USER first.
# garbage and unknown commands
C: FROB
S: -ERR Unknown command.
C: \x01\x02 garbage
S: -ERR Unknown command.
C:
S: -ERR Unknown command.
C: USER
S: -ERR USER takes one argument: the login name.
C: PASS
S: -ERR PASS requires a password.
C: APOP alice@example.org 0123456789abcdef0123456789abcdef
S: -ERR Unknown command.
# unknown user: USER does not tell
C: USER nobody@example.org
S: +OK
C: PASS whatever
S: -ERR [AUTH] Authentication failed.
# wrong password for a real user
C: USER alice@example.org
S: +OK
C: PASS wrong
S: -ERR [AUTH] Authentication failed.
# case-insensitive command names
C: user alice@example.org
S: +OK
C: pass secret
S: +OK Logged in, 3 messages (${TOTAL} octets).
C: USER alice@example.org
S: -ERR Command not valid after login.
C: STLS
S: -ERR Command not valid after login.
C: CAPA
S: +OK Capability list follows.
S: TOP
S: UIDL
S: RESP-CODES
S: AUTH-RESP-CODE
S: PIPELINING
S: EXPIRE NEVER
S: IMPLEMENTATION Roost
S: .
C: QUIT
S: +OK Logging out.
CLOSED
