# Deletions happen only at QUIT; a dropped connection deletes nothing; [IN-USE].
S: +OK*
LOGIN alice@example.org secret
S: +OK Logged in, 3 messages (${TOTAL} octets).
C: DELE 1
S: +OK Message 1 deleted.
C: DELE 2
S: +OK Message 2 deleted.
C: DELE 3
S: +OK Message 3 deleted.
# a second session for the same maildrop is refused while the first holds it
SESSION second
S: +OK*
LOGIN alice@example.org secret
S: -ERR [IN-USE] Mailbox is locked by another POP3 session.
# the first session drops the line: nothing is deleted, the lock is released
SESSION default
DROP
SESSION second
LOGIN alice@example.org secret
S: +OK Logged in, 3 messages (${TOTAL} octets).
C: DELE 2
S: +OK Message 2 deleted.
C: QUIT
S: +OK Logging out, 1 messages deleted.
CLOSED
SESSION third
S: +OK*
LOGIN alice@example.org secret
S: +OK Logged in, 2 messages (* octets).
C: LIST
S: +OK 2 messages*
S: 1 ${V1}
S: 2 ${V3}
S: .
C: RETR 2
S: +OK ${V3} octets
S: From: c@example.org
S: Subject: three
S: 
S: no newline at end
S: .
C: QUIT
S: +OK Logging out.
