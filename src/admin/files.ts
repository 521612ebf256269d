/** Files a running node keeps in its data directory for operators and the CLI. */

/** JSON {pid, ports, startedAt}, written once the node listens and removed on clean stop. */
export const NODE_FILE = 'node.json';
/** The control socket the CLI talks to (src/admin/control.ts). */
export const CONTROL_SOCKET = 'control.sock';
