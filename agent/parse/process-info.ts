import type { ProcessInfo } from '../events.js';
import { plain, uint, untrusted, type FieldLookup } from './fields.js';

/** The subject of a denial record: pid, comm, exe and credentials as the kernel wrote them. */
export function processFromRecord(values: FieldLookup, fallbackPid: number | undefined): ProcessInfo {
  const process: ProcessInfo = { pid: uint(values.get('pid')) ?? fallbackPid ?? 0 };
  const comm = untrusted(values.get('comm'));
  if (comm !== undefined) process.comm = comm;
  const exe = untrusted(values.get('exe'));
  if (exe !== undefined) process.exe = exe;
  const uid = uint(values.get('uid')) ?? uint(values.get('fsuid'));
  if (uid !== undefined) process.uid = uid;
  const gid = uint(values.get('gid'));
  if (gid !== undefined) process.gid = gid;
  const auid = uint(values.get('auid'));
  if (auid !== undefined) process.auid = auid;
  const ses = uint(values.get('ses'));
  if (ses !== undefined) process.ses = ses;
  const subj = plain(values.get('subj'));
  if (subj !== undefined) process.subj = subj;
  return process;
}
