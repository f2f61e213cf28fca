import type { Outcome, SelinuxDetail } from '../events.js';
import { plain, uint, untrusted } from './fields.js';
import type { RecordFields } from './fields.js';

/**
 * `avc:  denied  { read write } for  pid=... comm=... name=... scontext=... tcontext=... tclass=file
 * permissive=0`. Kernels before 4.x do not write `permissive=`; such a record is read as enforcing.
 */
export function selinuxDetail(fields: RecordFields): SelinuxDetail {
  const values = fields.values;
  const detail: SelinuxDetail = {
    permissions: fields.perms ?? [],
    scontext: plain(values.get('scontext')) ?? '',
    tcontext: plain(values.get('tcontext')) ?? '',
    tclass: plain(values.get('tclass')) ?? '',
    permissive: uint(values.get('permissive')) === 1,
  };
  const name = untrusted(values.get('name'));
  if (name !== undefined) detail.name = name;
  const path = untrusted(values.get('path'));
  if (path !== undefined) detail.path = path;
  return detail;
}

export function selinuxOutcome(detail: SelinuxDetail): Outcome {
  return detail.permissive ? 'allowed' : 'blocked';
}
