# RFC 5034 AUTH: bare AUTH lists mechanisms; PLAIN with initial response; PLAIN with empty challenge;
# LOGIN; cancel; unknown mechanism; malformed response; password with spaces.
S: +OK*
C: AUTH
S: +OK Supported SASL mechanisms follow.
S: PLAIN
S: LOGIN
S: .
C: AUTH CRAM-MD5
S: -ERR Unsupported authentication mechanism.
# LOGIN, cancelled at the password
C: AUTH LOGIN
S: + VXNlcm5hbWU6
C: YWxpY2VAZXhhbXBsZS5vcmc=
S: + UGFzc3dvcmQ6
C: *
S: -ERR Authentication cancelled.
# PLAIN without initial response, malformed answer
C: AUTH PLAIN
S: + 
C: !!!notbase64
S: -ERR Invalid SASL response: invalid base64.
# PLAIN with a wrong password ("\0alice@example.org\0nope")
C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAG5vcGU=
S: -ERR [AUTH] Authentication failed.
# proxy authorization is refused ("bob@example.org\0alice@example.org\0secret")
C: AUTH PLAIN Ym9iQGV4YW1wbGUub3JnAGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==
S: -ERR Invalid SASL response: authorization identity not permitted.
# LOGIN with initial response (user), then password: bob's password has spaces
C: AUTH LOGIN Ym9iQGV4YW1wbGUub3Jn
S: + UGFzc3dvcmQ6
C: Ym9iIHB3IHdpdGggc3BhY2Vz
S: +OK Logged in, 0 messages (0 octets).
C: STAT
S: +OK 0 0
C: LIST
S: +OK 0 messages (0 octets)
S: .
C: UIDL
S: +OK Unique-ID listing follows
S: .
C: QUIT
S: +OK Logging out.
CLOSED
SESSION plain
S: +OK*
# "\0alice@example.org\0secret" as initial response
C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==
S: +OK Logged in, 3 messages (${TOTAL} octets).
C: QUIT
S: +OK Logging out.
CLOSED
SESSION userpass
S: +OK*
# USER/PASS: spaces are part of the password (RFC 1939 §7)
C: USER bob@example.org
S: +OK
C: PASS bob pw with spaces
S: +OK Logged in, 0 messages (0 octets).
C: QUIT
S: +OK Logging out.
SESSION disabled
S: +OK*
# right password, disabled account: [SYS/PERM], not [AUTH]
C: USER carl@example.org
S: +OK
C: PASS carlpw
S: -ERR [SYS/PERM] Account is disabled.
C: QUIT
S: +OK Logging out.
