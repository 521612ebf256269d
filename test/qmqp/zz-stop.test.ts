import { it } from 'vitest';
import net from 'node:net';
import { startTestNode } from '/work/main/test/helpers/node.js';
import { qmqpRaw } from '/work/main/test/helpers/qmqp.js';
it('stop', async () => {
  const t = await startTestNode({ qmqp: { read_timeout_ms: 500 } });
  const which = process.env.WHICH;
  if (which === 'timeout') await qmqpRaw(t.ports.qmqp!, [Buffer.from('50:1')], { timeoutMs: 5000 });
  if (which === 'trunc') await qmqpRaw(t.ports.qmqp!, [Buffer.from('50:1')], { end: true });
  if (which === 'idle') { const s = net.connect({ port: t.ports.qmqp!, host: '127.0.0.1' }); await new Promise((r) => s.once('connect', r)); s.write('5'); await new Promise((r) => setTimeout(r, 50)); s.destroy(); await new Promise((r) => setTimeout(r, 50)); }
  const tm = setInterval(() => console.log('still stopping'), 2000);
  await t.stop();
  clearInterval(tm);
  console.log('stopped');
}, 10000);
