# Pipelined RETR/TOP (the next message is opened while the current one is sent):
# same message twice, TOP after RETR, a deleted message, out of range, then QUIT.
S: +OK*
LOGIN alice@example.org secret
S: +OK Logged in, 3 messages (${TOTAL} octets).
P: RETR 2
P: RETR 2
P: TOP 2 1
P: RETR 3
P: DELE 1
P: RETR 1
P: TOP 3 0
P: RETR 4
P: RETR 3
P: QUIT
S: +OK ${V2} octets
S: From: b@example.org
S: Subject: two
S:
S: line1
S: line2
S: line3
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
S: From: b@example.org
S: Subject: two
S:
S: line1
S: .
S: +OK ${V3} octets
S: From: c@example.org
S: Subject: three
S:
S: no newline at end
S: .
S: +OK Message 1 deleted.
S: -ERR Message 1 is deleted.
S: +OK Top of message follows.
S: From: c@example.org
S: Subject: three
S:
S: .
S: -ERR There's no message 4.
S: +OK ${V3} octets
S: From: c@example.org
S: Subject: three
S:
S: no newline at end
S: .
S: +OK Logging out, 1 messages deleted.
CLOSED
