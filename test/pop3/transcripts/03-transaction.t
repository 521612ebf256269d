# Every TRANSACTION command, the listing, RETR/TOP bytes and the state errors.
S: +OK*
LOGIN alice@example.org secret
S: +OK Logged in, 3 messages (${TOTAL} octets).
C: STAT
S: +OK 3 ${TOTAL}
C: LIST
S: +OK 3 messages (${TOTAL} octets)
S: 1 ${V1}
S: 2 ${V2}
S: 3 ${V3}
S: .
C: LIST 2
S: +OK 2 ${V2}
C: LIST 0
S: -ERR There's no message 0.
C: LIST 4
S: -ERR There's no message 4.
C: LIST 99999999999
S: -ERR There's no message 99999999999.
C: LIST abc
S: -ERR Invalid message number.
C: LIST -1
S: -ERR Invalid message number.
C: LIST 1 2
S: -ERR Too many arguments.
C: UIDL
S: +OK Unique-ID listing follows
S~ /^1 [\x21-\x7e]+$/
S~ /^2 [\x21-\x7e]+$/
S~ /^3 [\x21-\x7e]+$/
S: .
C: UIDL 3
S~ /^\+OK 3 [\x21-\x7e]+$/
C: UIDL 4
S: -ERR There's no message 4.
C: RETR 1
S: +OK ${V1} octets
S: From: a@example.org
S: To: alice@example.org
S: Subject: one
S: 
S: Hello
S: ..dot line
S: ...two dots
S: ..
S: bye
S: .
C: RETR 3
S: +OK ${V3} octets
S: From: c@example.org
S: Subject: three
S: 
S: no newline at end
S: .
C: RETR
S: -ERR Message number required.
C: RETR 0
S: -ERR There's no message 0.
C: TOP 1 0
S: +OK Top of message follows.
S: From: a@example.org
S: To: alice@example.org
S: Subject: one
S: 
S: .
C: TOP 2 1
S: +OK Top of message follows.
S: From: b@example.org
S: Subject: two
S: 
S: line1
S: .
C: TOP 3 5
S: +OK Top of message follows.
S: From: c@example.org
S: Subject: three
S: 
S: no newline at end
S: .
C: TOP 1
S: -ERR TOP requires a message number and a line count.
C: TOP 1 x
S: -ERR Invalid line count.
C: TOP 9 0
S: -ERR There's no message 9.
C: DELE 1
S: +OK Message 1 deleted.
C: DELE 1
S: -ERR Message 1 is deleted.
C: RETR 1
S: -ERR Message 1 is deleted.
C: TOP 1 0
S: -ERR Message 1 is deleted.
C: LIST 1
S: -ERR Message 1 is deleted.
C: UIDL 1
S: -ERR Message 1 is deleted.
C: STAT
S: +OK 2 ${V23}
C: LIST
S: +OK 2 messages (${V23} octets)
S: 2 ${V2}
S: 3 ${V3}
S: .
C: UIDL
S: +OK Unique-ID listing follows
S~ /^2 /
S~ /^3 /
S: .
C: DELE 4
S: -ERR There's no message 4.
C: RSET
S: +OK 3 messages (${TOTAL} octets)
C: STAT
S: +OK 3 ${TOTAL}
C: NOOP
S: +OK
C: NOOP 1
S: -ERR This command takes no argument.
C: STAT extra
S: -ERR This command takes no argument.
C: BOGUS
S: -ERR Unknown command.
C: QUIT
S: +OK Logging out.
CLOSED
SESSION again
S: +OK*
LOGIN alice@example.org secret
S: +OK Logged in, 3 messages (${TOTAL} octets).
C: QUIT
S: +OK Logging out.
