/**
 * Every `roost` command, in one table. Adding a command is
 * one module plus one row here; main.ts builds the commander tree from it.
 */
import type { CliCommand } from '../command.js';
import { demote } from './demote.js';
import { importMaildir } from './import.js';
import { deliver } from './deliver.js';
import { promote } from './promote.js';
import { reindex } from './reindex.js';
import { secret } from './secret.js';
import { serve } from './serve.js';
import { status } from './status.js';
import { clusterStatus } from './cluster-status.js';
import { verify } from './verify.js';
import { accountMove, accountPurge } from './account-move.js';
import { aliasAdd, userAdd, userDel, userList, userPasswd, userUidl } from './user.js';
import { userShow } from './user-show.js';
import { forwardAdd, forwardDel, forwardList, vacationOff, vacationSet } from './user-forward.js';

export const COMMANDS: readonly CliCommand[] = [
  serve,
  userAdd,
  userDel,
  userPasswd,
  userList,
  userUidl,
  userShow,
  aliasAdd,
  forwardAdd,
  forwardDel,
  forwardList,
  vacationSet,
  vacationOff,
  status,
  clusterStatus,
  deliver,
  reindex,
  importMaildir,
  promote,
  demote,
  verify,
  accountMove,
  accountPurge,
  secret,
];
