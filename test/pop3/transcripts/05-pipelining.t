# RFC 2449 PIPELINING: many commands in one write, answered in order.
S: +OK*
P: CAPA
P: USER alice@example.org
P: PASS secret
P: STAT
P: LIST
P: RETR 2
P: TOP 1 0
P: DELE 3
P: UIDL 3
P: BOGUS
P: RSET
P: NOOP
P: QUIT
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
S: +OK
S: +OK Logged in, 3 messages (${TOTAL} octets).
S: +OK 3 ${TOTAL}
S: +OK 3 messages (${TOTAL} octets)
S: 1 ${V1}
S: 2 ${V2}
S: 3 ${V3}
S: .
S: +OK ${V2} octets
S: From: b@example.org
S: Subject: two
S: 
S: line1
S: line2
S: line3
S: .
S: +OK Top of message follows.
S: From: a@example.org
S: To: alice@example.org
S: Subject: one
S: 
S: .
S: +OK Message 3 deleted.
S: -ERR Message 3 is deleted.
S: -ERR Unknown command.
S: +OK 3 messages (${TOTAL} octets)
S: +OK
S: +OK Logging out.
CLOSED
