// Deterministic message corpus for every benchmark (bench:ingest, bench:pop3,
// bench:imap, bench:compare): the same seed gives the same bytes, so Roost and
// Dovecot are fed identical mail.
//
// Sizes follow a rough log-normal: median a few KB, ~5 % carry a base64
// attachment of 50–500 KB; ~30 % are multipart/alternative; ~15 % have
// RFC 2047 encoded (non-ASCII) subjects or display names; line ends are LF,
// as QMQP and LMTP hand messages to a Maildir.

/** mulberry32: small, fast, seedable PRNG. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her she there been one all we their has would when if so no what up out who them some could more ' +
  'meeting report budget quarter server mailbox invoice project schedule release migration backup cluster ' +
  'delivery customer account password network storage office contract review draft agenda travel holiday'
).split(' ');
const NAMES = ['Alice Martin', 'Bob Stone', 'Carol Diaz', 'Dan Wu', 'Eve Novak', 'Frank Olsen', 'Grace Kim', 'Heidi Roth'];
const INTL = ['Jürgen Müller', 'Zoë Żółć', 'Ørjan Håland', '田中 太郎', 'Renée Ça'];
const SUBJ_INTL = ['Grüße aus München', 'Réunion de l’équipe', 'Çalışma planı', '会議の議事録', 'Ærlig talt'];

/** The rare word planted in 1 of every `RARE_EVERY` messages (for SEARCH BODY). */
export const RARE_WORD = 'quixotically';
export const RARE_EVERY = 997;

function encodedWord(s) {
  return `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;
}

function sentence(r, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(WORDS[Math.floor(r() * WORDS.length)]);
  out[0] = out[0][0].toUpperCase() + out[0].slice(1);
  return out.join(' ') + '.';
}

function paragraphText(r, bytes, rare) {
  const lines = [];
  let size = 0;
  while (size < bytes) {
    let line = '';
    while (line.length < 68) line += (line ? ' ' : '') + sentence(r, 4 + Math.floor(r() * 8));
    lines.push(line);
    size += line.length + 1;
    if (r() < 0.15) {
      lines.push('');
      size += 1;
    }
  }
  if (rare) lines.splice(Math.floor(lines.length / 2), 0, `This line mentions ${RARE_WORD} once.`);
  return lines.join('\n') + '\n';
}

function logNormalSize(r, median) {
  // Box–Muller, sigma 0.9: median `median`, a long-ish tail.
  const u = Math.max(r(), 1e-9);
  const v = r();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return Math.max(300, Math.round(median * Math.exp(0.9 * z)));
}

function base64Lines(r, bytes) {
  const buf = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) buf.writeUInt32LE((r() * 4294967296) >>> 0, Math.min(i, bytes - 4));
  return buf.toString('base64').replace(/.{76}/g, '$&\n') + '\n';
}

/**
 * Message `i` of the corpus `seed`, addressed to `to`. Returns a Buffer with
 * LF line ends. Deterministic in (seed, i, to).
 */
export function message(seed, i, to = 'user@example.org') {
  const r = rng((seed * 1000003 + i * 7919) >>> 0);
  const intl = r() < 0.15;
  const fromName = intl ? INTL[Math.floor(r() * INTL.length)] : NAMES[Math.floor(r() * NAMES.length)];
  const fromAddr = fromName.toLowerCase().replace(/[^a-z]+/g, '.').replace(/^\.|\.$/g, '') || 'sender';
  const subject = intl ? encodedWord(SUBJ_INTL[Math.floor(r() * SUBJ_INTL.length)]) : sentence(r, 3 + Math.floor(r() * 5)).slice(0, -1);
  const date = new Date(Date.UTC(2026, 0, 1) + i * 61_000 + Math.floor(r() * 60_000));
  const rare = i % RARE_EVERY === 0;
  const head = [
    `Return-Path: <${fromAddr}@example.net>`,
    `From: ${intl ? encodedWord(fromName) : fromName} <${fromAddr}@example.net>`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${seed}.${i}@corpus.example.net>`,
  ];
  if (i > 0 && r() < 0.3) {
    const parent = Math.floor(r() * i);
    head.push(`In-Reply-To: <${seed}.${parent}@corpus.example.net>`, `References: <${seed}.${parent}@corpus.example.net>`);
  }
  head.push('MIME-Version: 1.0');
  const textSize = logNormalSize(r, 2500);
  const attach = r() < 0.05 ? 50_000 + Math.floor(r() ** 2 * 450_000) : 0;
  const alt = !attach && r() < 0.3;
  let body;
  if (attach) {
    const b = `=_att_${seed}_${i}`;
    head.push(`Content-Type: multipart/mixed; boundary="${b}"`);
    body =
      `--${b}\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n` +
      paragraphText(r, textSize, rare) +
      `--${b}\nContent-Type: application/octet-stream; name="data-${i}.bin"\n` +
      `Content-Disposition: attachment; filename="data-${i}.bin"\nContent-Transfer-Encoding: base64\n\n` +
      base64Lines(r, Math.floor((attach * 3) / 4)) +
      `--${b}--\n`;
  } else if (alt) {
    const b = `=_alt_${seed}_${i}`;
    const text = paragraphText(r, textSize, rare);
    head.push(`Content-Type: multipart/alternative; boundary="${b}"`);
    body =
      `--${b}\nContent-Type: text/plain; charset=utf-8\n\n${text}` +
      `--${b}\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>${text.replace(/\n\n/g, '</p><p>')}</p></body></html>\n` +
      `--${b}--\n`;
  } else {
    head.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit');
    body = paragraphText(r, textSize, rare);
  }
  return Buffer.from(head.join('\n') + '\n\n' + body, 'utf8');
}

/** A fixed-size message (ingest benchmarks: "4 KB", "100 KB"). */
export function fixedMessage(seed, i, bytes, to = 'user@example.org') {
  const r = rng((seed * 31 + i) >>> 0);
  const head =
    `From: Bench <bench@example.net>\nTo: ${to}\nSubject: bench ${seed}/${i}\n` +
    `Date: Thu, 01 Jan 2026 00:00:00 +0000\nMessage-ID: <b${seed}.${i}@example.net>\n\n`;
  return Buffer.from(head + paragraphText(r, Math.max(0, bytes - head.length - 80), false), 'utf8');
}
