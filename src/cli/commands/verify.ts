/**
 * `roost verify`: the running node compares its mailboxes with its peer's —
 * per mailbox UIDVALIDITY, UIDNEXT, and per message UID, file name, flags,
 * modseq and a SHA-256 of the file — and lists the differences. Exit 0 when
 * identical, 1 otherwise.
 */
import { EXIT, type CliCommand } from '../command.js';
import { controlRequest, controlSocketPath } from '../control-client.js';
import { failFromControl } from '../control-errors.js';
import { startProgress } from '../progress.js';

interface VerifyResult {
  identical: boolean;
  mailboxes: number;
  messages: number;
  differences: string[];
  lastLsn: string;
  peerLastLsn: string;
}

export const verify: CliCommand = {
  path: ['verify'],
  summary: 'compare this node and its replication peer mailbox by mailbox; exit 0 when identical',
  options: [{ flags: '--json', description: 'print JSON' }],
  async run(cli, _args, opts) {
    // Progress on stderr: messages described here so far (the peer describes its own at the same time).
    const progress = startProgress(cli.stderr, 'verify', null);
    let r: VerifyResult;
    try {
      const onProgress = (p: Record<string, unknown>): void => progress.update(Number(p.messages ?? 0));
      r = failFromControl(await controlRequest(controlSocketPath(cli.config()), 'verify', {}, { timeoutMs: 30 * 60_000, onProgress })) as VerifyResult;
      progress.update(r.messages);
    } finally {
      progress.finish();
    }
    if (opts.json) cli.stdout.write(`${JSON.stringify(r)}\n`);
    else {
      for (const d of r.differences) cli.stdout.write(`${d}\n`);
      cli.stdout.write(
        `${r.identical ? 'identical' : 'DIFFERENT'}: ${r.mailboxes} mailboxes, ${r.messages} messages, ${r.differences.length} differences (LSN here ${r.lastLsn}, peer ${r.peerLastLsn})\n`,
      );
    }
    return r.identical ? EXIT.OK : EXIT.FAILURE;
  },
};
