# RFC 2595 STLS: +OK, handshake, CAPA again (no STLS any more), login over TLS.
S: +OK*
C: STLS
S: +OK Begin TLS negotiation.
TLS
C: CAPA
S: +OK Capability list follows.
S: TOP
S: UIDL
S: RESP-CODES
S: AUTH-RESP-CODE
S: PIPELINING
S: USER
S: SASL PLAIN LOGIN
S: EXPIRE NEVER
S: IMPLEMENTATION Roost
S: .
C: STLS
S: -ERR TLS is already active.
LOGIN alice@example.org secret
S: +OK Logged in, 3 messages (${TOTAL} octets).
C: RETR 2
S: +OK ${V2} octets
S: From: b@example.org
S: Subject: two
S: 
S: line1
S: line2
S: line3
S: .
C: QUIT
S: +OK Logging out.
CLOSED
