// Messages about a configuration name its VMs, networks and SRs the way the admin picked
// them: by name. xo-web's pickers store UUIDs, and the shared parser only has those, so
// the XO side swaps each UUID it knows for the object's name (adding the UUID when two
// objects of that kind share the name). Unknown UUIDs stay: they are all there is.

import { PoolIndex, type XapiConnection, type XapiRecord } from './xapi-types.ts'

const NAMED_TYPES = ['VM', 'network', 'SR', 'host']
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

type Named = XapiRecord & { name_label?: string; is_a_template?: boolean; is_a_snapshot?: boolean }

export class Names {
  private readonly byUuid = new Map<string, string>()

  constructor(xapis: readonly XapiConnection[]) {
    for (const xapi of xapis) {
      const index = new PoolIndex(xapi)
      for (const type of NAMED_TYPES) {
        const records = index.all<Named>(type).filter(r => !r.is_a_template && !r.is_a_snapshot)
        const count = new Map<string, number>()
        for (const r of records) count.set(r.name_label ?? '', (count.get(r.name_label ?? '') ?? 0) + 1)
        for (const r of records) {
          const name = JSON.stringify(r.name_label ?? '')
          this.byUuid.set(
            r.uuid,
            (count.get(r.name_label ?? '') ?? 0) > 1 || !r.name_label ? `${name} (${r.uuid})` : name,
          )
        }
      }
    }
  }

  /** The object's name as messages show it, or undefined for a UUID no pool has. */
  of(uuid: string): string | undefined {
    return this.byUuid.get(uuid.toLowerCase())
  }

  /** `"uuid"` and bare UUIDs become names; a UUID already in parentheses after its name stays. */
  rename(text: string): string {
    return text.replace(
      new RegExp(`(\\()?"?(${UUID})"?`, 'gi'),
      (match: string, paren: string | undefined, uuid: string) => {
        const name = this.of(uuid)
        if (!name || paren) return match
        return name
      },
    )
  }
}
