/** `roost serve`: run a node until SIGTERM/SIGINT, then stop accepting, finish in-flight work, exit 0. */
import { EXIT, type CliCommand } from '../command.js';

export const serve: CliCommand = {
  path: ['serve'],
  summary: 'run the node (IMAP, POP3, QMQP, admin, replication) in the foreground',
  async run(cli) {
    const config = cli.config();
    // Loaded here, not at CLI start: `roost user add` should not load every protocol module.
    const { startNode } = await import('../../node.js');
    const node = await startNode(config);
    await new Promise<void>((resolve) => {
      let signalled = false;
      const onSignal = (sig: NodeJS.Signals): void => {
        if (signalled) {
          // A second signal while draining: the operator wants out now.
          node.log.warn({ signal: sig }, 'second signal, exiting without waiting');
          process.exit(EXIT.FAILURE);
        }
        signalled = true;
        node.log.info({ signal: sig }, 'signal received');
        node.stop().then(resolve, (err: unknown) => {
          node.log.error({ err }, 'stop failed');
          resolve();
        });
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
    return EXIT.OK;
  },
};
