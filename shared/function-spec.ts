// Every host function and its arguments, once: the parsers accept exactly these names,
// and `help`, `FUNCTION --help`, the man page and the suggestions for typos are written
// from them. A new argument is added here or the parser refuses it.

export interface ArgumentSpec {
  name: string
  /** How the value is written in the usage line. */
  value: string
  required?: boolean
  default?: string
  doc: string
}

export interface FunctionSpec {
  name: string
  summary: string
  args: ArgumentSpec[]
  /** Arguments of a typical call, as `key=value` words. */
  example: string[]
  /** Reachable through xapi (`xe host-call-plugin`); otherwise only by hand on the host. */
  viaXapi: boolean
  notes?: string
}

const DRY_RUN: ArgumentSpec = {
  name: 'dry-run',
  value: 'true|false',
  default: 'false',
  doc: 'say what would change, change nothing',
}
const CONFIRM: ArgumentSpec = {
  name: 'confirm',
  value: 'SECONDS',
  default: '0',
  doc: 'revert by itself after this many seconds (at most 3600) unless `confirm token=…` comes first; 0: no revert',
}
const BRIDGE_OR_NETWORK: ArgumentSpec[] = [
  {
    name: 'bridge',
    value: 'BRIDGE',
    doc: "the bridge of the firewall VM's private network (e.g. xapi1); or give network=",
  },
  {
    name: 'network',
    value: 'NETWORK-UUID',
    doc: 'the network instead of its bridge: its bridge on this host is looked up in xapi',
  },
]

export const FUNCTION_SPECS: readonly FunctionSpec[] = [
  {
    name: 'apply',
    summary: 'bind addresses, default gateway and routes on a bridge',
    args: [
      ...BRIDGE_OR_NETWORK,
      {
        name: 'addresses',
        value: 'CIDR[,CIDR]',
        required: true,
        doc: 'dom0 addresses with their prefix (IPv4 and/or IPv6)',
      },
      { name: 'gateway', value: 'IP[,IP]', doc: 'default gateway, at most one per family, inside a bound prefix' },
      { name: 'routes', value: 'DEST[=VIA][,...]', doc: 'more routes through the bridge: on-link, or via a next hop' },
      {
        name: 'management-address',
        value: 'IP',
        doc: 'one of the addresses, mirrored as /32 or /128 on the management bridge',
      },
      { name: 'management-bridge', value: 'BRIDGE', doc: 'where the mirror goes; looked up in xapi when left out' },
      {
        name: 'proxy-arp',
        value: 'true|false',
        default: 'false',
        doc: 'answer ARP for the routed addresses on the bridge',
      },
      { name: 'forwarding', value: 'true|false', default: 'false', doc: 'enable IP forwarding on the bridge' },
      {
        name: 'gateway-check',
        value: 'SECONDS',
        default: '10',
        doc: 'how long the new gateway has to answer before the old route comes back',
      },
      CONFIRM,
      DRY_RUN,
    ],
    example: ['bridge=xapi1', 'addresses=192.0.2.2/24', 'gateway=192.0.2.1', 'management-address=192.0.2.2'],
    viaXapi: true,
  },
  {
    name: 'confirm',
    summary: 'keep a change applied with confirm=N: cancels its revert',
    args: [{ name: 'token', value: 'TOKEN', required: true, doc: "this caller's token, from apply's result" }],
    example: ['token=<token>'],
    viaXapi: true,
    notes:
      'each caller of a window confirms its own token; the window is kept once all have (othersUnconfirmed: how many are still awaited). The last confirmed token, again, gets the same answer; an unknown token, or one whose change was reverted, is refused (VIF_IP_BINDER_NO_SUCH_CONFIRMATION).',
  },
  {
    name: 'apply-many',
    summary:
      'apply several bridges in one call: one lock, one kernel read, one batch of changes (what Xen Orchestra sends a host)',
    args: [
      {
        name: 'requests',
        value: 'JSON',
        required: true,
        doc: 'a JSON array of apply argument objects, one per bridge, each as apply takes them (confirm aside)',
      },
      CONFIRM,
      {
        name: 'refuse-changes',
        value: 'true|false',
        doc: 'bind only bridges that hold nothing or these same arguments, and whose last change was not reverted unconfirmed; the others fail with VIF_IP_BINDER_NEEDS_CONFIRMATION, unchanged (default: false; not with confirm)',
      },
    ],
    example: ['requests=[{"bridge":"xapi1","addresses":"192.0.2.2/24","gateway":"192.0.2.1"}]'],
    viaXapi: true,
  },
  {
    name: 'release',
    summary: 'give back what apply added on a bridge, and the previous default route',
    args: [...BRIDGE_OR_NETWORK, DRY_RUN],
    example: ['bridge=xapi1'],
    viaXapi: true,
  },
  {
    name: 'status',
    summary: 'what is bound, the drift from it, the pause, what is installed',
    args: [
      { name: 'bridge', value: 'BRIDGE', doc: 'only this bridge (default: every recorded bridge)' },
      {
        name: 'firewall-vifs',
        value: 'true|false',
        doc: 'check the bound firewall VIFs through the local xapi (default: true)',
      },
    ],
    example: ['bridge=xapi1'],
    viaXapi: true,
  },
  {
    name: 'version',
    summary: 'version, protocol, and which parts are installed',
    args: [],
    example: [],
    viaXapi: true,
  },
  {
    name: 'plug-srs',
    summary: 'plug network SRs on this host once their server answers',
    args: [
      { name: 'srs', value: 'SR-UUID[,...]', required: true, doc: 'the SRs to plug' },
      {
        name: 'probes',
        value: 'SR-UUID=PROBE[,...]',
        doc: 'tcp:HOST:PORT or icmp:HOST per SR; derived from the PBD otherwise',
      },
      { name: 'timeout', value: 'SECONDS', default: '120', doc: 'how long to wait for the servers (at most 3600)' },
    ],
    example: ['srs=<sr-uuid>', 'timeout=120'],
    viaXapi: true,
  },
  {
    name: 'reconcile',
    summary: "apply the pool's bindings for the VMs running here, release the rest",
    args: [],
    example: [],
    viaXapi: true,
  },
  {
    name: 'refresh-index',
    summary: "read the pool document again into the vif-hotplug hook's local index",
    args: [],
    example: [],
    viaXapi: true,
    notes:
      'Xen Orchestra calls it on every host of a pool after it writes the pool document. apply, apply-many, release and resume remove the index (configure rewrites it), so that the next hook asks xapi.',
  },
  {
    name: 'rescue',
    summary: 'enable a host that booted disabled and start the bound VMs (opt-in)',
    args: [],
    example: [],
    viaXapi: true,
  },
  {
    name: 'configure',
    summary: 'check a bindings document against the pool and write it (no XO needed)',
    args: [
      {
        name: 'bindings',
        value: 'JSON',
        required: true,
        doc: 'the document (see `vif-ip-binder schema`); by hand: --file FILE; with xe: args:bindings:file=FILE',
      },
      {
        ...CONFIRM,
        doc: "also apply this host's bindings at once, reverting after this many seconds unless `confirm token=…` comes first; 0: only write",
      },
      DRY_RUN,
    ],
    example: ['bindings=\'{"version":1,"bindings":[...]}\''],
    viaXapi: true,
    notes:
      'VMs and networks may be named by UUID or exact name; anything this pool does not have is refused and nothing is written.',
  },
  {
    name: 'show-config',
    summary: "the pool's configuration, who wrote it and when",
    args: [],
    example: [],
    viaXapi: true,
  },
  {
    name: 'schema',
    summary: 'print the JSON Schema of the pool document',
    args: [],
    example: [],
    viaXapi: true,
  },
  {
    name: 'pause',
    summary: 'stop the automation on this host (hook, boot, reconcile, XO) until resume',
    args: [
      { name: 'reason', value: 'TEXT', required: true, doc: 'why, shown by status and the Xen Orchestra Test report' },
    ],
    example: ['reason="replacing the firewall"'],
    viaXapi: true,
    notes: 'apply and release by hand still work while paused (and say so).',
  },
  {
    name: 'resume',
    summary: 'end a pause; run reconcile afterwards to converge',
    args: [],
    example: [],
    viaXapi: true,
  },
  {
    name: 'boot',
    summary: 'what the boot unit runs: wait for xapi, rescue, reconcile',
    args: [{ name: 'wait', value: 'SECONDS', default: '600', doc: 'how long to wait for the local xapi' }],
    example: ['wait=600'],
    viaXapi: false,
  },
  {
    name: 'revert-worker',
    summary: 'the detached process that reverts an unconfirmed change at its deadline (not for people)',
    args: [{ name: 'token', value: 'TOKEN', required: true, doc: "the pending confirmation's token" }],
    example: ['token=<token>'],
    viaXapi: false,
  },
  {
    name: 'hotplug-worker',
    summary: "the vif-hotplug hook's detached worker (not for people)",
    args: [
      { name: 'action', value: 'online|remove', required: true, doc: "the hook's -action" },
      { name: 'vif', value: 'VIF-UUID', required: true, doc: "the hook's -vifuuid" },
      { name: 'vm', value: 'VM-UUID', required: true, doc: "the hook's -vmuuid" },
      { name: 'bridge', value: 'BRIDGE', doc: 'the bridge the hook already bound from its local index' },
    ],
    example: ['action=online', 'vif=<vif-uuid>', 'vm=<vm-uuid>'],
    viaXapi: false,
  },
]

export function functionSpec(name: string): FunctionSpec | undefined {
  return FUNCTION_SPECS.find(spec => spec.name === name)
}

/** The argument names a function accepts. */
export function argumentNames(name: string): string[] {
  return functionSpec(name)?.args.map(arg => arg.name) ?? []
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = row
  }
  return previous[b.length]!
}

/** The nearest candidate, if it is near enough to be a typo (or a prefix of it). */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; score: number } | undefined
  for (const candidate of candidates) {
    const score = candidate.startsWith(word) && word.length >= 2 ? 0.5 : distance(word, candidate)
    if (!best || score < best.score) best = { candidate, score }
  }
  if (!best) return undefined
  return best.score <= Math.max(2, Math.floor(word.length / 3)) ? best.candidate : undefined
}

/** " (did you mean X?)" or "". */
export function suggestion(word: string, candidates: readonly string[]): string {
  const near = nearest(word, candidates)
  return near ? ` (did you mean ${JSON.stringify(near)}?)` : ''
}
