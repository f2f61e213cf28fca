import { APPARMOR_MODE, type AppArmorDetail, type AppArmorMode, type Outcome } from '../events.js';
import { int, plain, uint, untrusted, type FieldLookup } from './fields.js';

/**
 * `apparmor="DENIED" operation="open" profile="..." name="..." requested_mask="r" denied_mask="r"`.
 * Only DENIED, ALLOWED (complain mode), AUDIT and KILL are decisions about a process; STATUS records are
 * profile loads and HINT/ERROR are the module's own messages. Records of pre-2.6.36 kernels (no
 * `apparmor=` field, `REJECTING ...` text) are not read: libapparmor treats them as a different format
 * and no supported kernel writes them.
 */
export function appArmorMode(values: FieldLookup): AppArmorMode | undefined {
  switch (plain(values.get('apparmor'))) {
    case 'DENIED':
      return APPARMOR_MODE.DENIED;
    case 'ALLOWED':
      return APPARMOR_MODE.ALLOWED;
    case 'AUDIT':
      return APPARMOR_MODE.AUDIT;
    case 'KILL':
    case 'KILLED':
      return APPARMOR_MODE.KILL;
    default:
      return undefined;
  }
}

export function appArmorOutcome(mode: AppArmorMode): Outcome {
  switch (mode) {
    case APPARMOR_MODE.DENIED:
      return 'blocked';
    case APPARMOR_MODE.ALLOWED:
      return 'allowed';
    case APPARMOR_MODE.AUDIT:
      return 'logged';
    case APPARMOR_MODE.KILL:
      return 'killed';
  }
}

export function appArmorDetail(values: FieldLookup, mode: AppArmorMode): AppArmorDetail {
  const detail: AppArmorDetail = {
    mode,
    operation: plain(values.get('operation')) ?? '',
    // Newer kernels write `label=` where older ones wrote `profile=` for some classes.
    profile: untrusted(values.get('profile')) ?? untrusted(values.get('label')) ?? '',
  };
  const cls = plain(values.get('class'));
  if (cls !== undefined) detail.class = cls;
  const capname = plain(values.get('capname'));
  // For `capable` denials the object is the capability: libapparmor reports capname as the name.
  const name = untrusted(values.get('name')) ?? capname;
  if (name !== undefined) detail.name = name;
  // Link and rename records name the second path `target=`; libapparmor reports it as name2.
  const name2 = untrusted(values.get('name2')) ?? untrusted(values.get('target'));
  if (name2 !== undefined) detail.name2 = name2;
  const requested = plain(values.get('requested_mask')) ?? plain(values.get('requested'));
  if (requested !== undefined) detail.requestedMask = requested;
  const denied = plain(values.get('denied_mask')) ?? plain(values.get('denied'));
  if (denied !== undefined) detail.deniedMask = denied;
  const capability = uint(values.get('capability'));
  if (capability !== undefined) detail.capability = capability;
  if (capname !== undefined) detail.capname = capname;
  const signal = plain(values.get('signal'));
  if (signal !== undefined) detail.signal = signal;
  const peer = untrusted(values.get('peer')) ?? untrusted(values.get('peer_label'));
  if (peer !== undefined) detail.peer = peer;
  const info = plain(values.get('info'));
  if (info !== undefined) detail.info = info;
  const error = int(values.get('error'));
  if (error !== undefined) detail.error = error;
  return detail;
}
