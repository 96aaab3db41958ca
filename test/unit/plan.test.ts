// The planner (xapi-plugin/engine/plan.ts) against fake kernel snapshots shaped like `ip -j addr`
// and `ip -j route`. A small in-memory kernel runs the planned steps so that "plan again
// after applying" and "apply then release" can be checked end to end without root.

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import ipaddr from 'ipaddr.js'
import type { Family } from '../../shared/addresses.ts'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import { type PluginArgs, encodeApplyArgs, parseApplyArgs } from '../../shared/plugin-args.ts'
import { type IpLink, type IpRoute, defaultRoutesOf } from '../../xapi-plugin/kernel/ip.ts'
import type { Observed } from '../../xapi-plugin/engine/observe.ts'
import { type Plan, desiredSysctls, planApply, planRelease } from '../../xapi-plugin/engine/plan.ts'
import { emptyRecord } from '../../xapi-plugin/engine/state.ts'
import { sysctlPath } from '../../xapi-plugin/kernel/sysctl.ts'
import type { BridgeRecord, DefaultRoute, Step } from '../../shared/results.ts'

// ---------------------------------------------------------------------------------------
// A fake kernel: links with addresses, the main routing tables, per-interface sysctls.

const SYSCTLS: [Family, 'proxy_arp' | 'forwarding' | 'promote_secondaries'][] = [
  [4, 'promote_secondaries'],
  [4, 'proxy_arp'],
  [4, 'forwarding'],
  [6, 'forwarding'],
]

const familyOf = (address: string): Family => (address.includes(':') ? 6 : 4)
const hostBits = (family: Family) => (family === 4 ? 32 : 128)

class FakeKernel {
  links = new Map<string, IpLink>()
  routes: Record<Family, IpRoute[]> = { 4: [], 6: [] }
  sysctls = new Map<string, string>()

  /** A link as `ip -j addr show dev X` prints it (with the connected routes the kernel adds). */
  addLink(ifname: string, { up = true, addresses = [] as string[] } = {}): this {
    this.links.set(ifname, {
      ifname,
      flags: up ? ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'] : ['BROADCAST', 'MULTICAST'],
      addr_info: [],
    })
    for (const [family, name] of SYSCTLS) this.sysctls.set(sysctlPath(family, ifname, name), '0')
    for (const cidr of addresses) this.addAddress(ifname, cidr)
    return this
  }

  /** xapi destroys the bridge with its last VIF: addresses and routes through it go too. */
  removeLink(ifname: string): void {
    this.links.delete(ifname)
    for (const family of [4, 6] as const) this.routes[family] = this.routes[family].filter(r => r.dev !== ifname)
    for (const path of [...this.sysctls.keys()]) if (path.includes(`/conf/${ifname}/`)) this.sysctls.delete(path)
  }

  addRoute(family: Family, route: IpRoute): this {
    this.routes[family].push(route)
    return this
  }

  observe(bridge: string, management?: string): Observed {
    const routes = structuredClone(this.routes)
    const link = (name: string | undefined) => (name === undefined ? undefined : structuredClone(this.links.get(name)))
    return {
      bridge: link(bridge),
      management: link(management),
      routes,
      defaults: { 4: defaultRoutesOf(routes[4], 4), 6: defaultRoutesOf(routes[6], 6) },
      sysctls: Object.fromEntries(this.sysctls),
    }
  }

  private link(dev: string): IpLink {
    const link = this.links.get(dev)
    if (!link) throw new Error(`Cannot find device "${dev}"`)
    return link
  }

  private addAddress(dev: string, cidr: string): void {
    const [address, prefixText] = cidr.split('/') as [string, string]
    const prefix = Number(prefixText)
    const family = familyOf(address)
    const link = this.link(dev)
    if (link.addr_info!.some(a => a.local === address && a.prefixlen === prefix))
      throw new Error(`RTNETLINK answers: File exists (${cidr})`)
    link.addr_info!.push({
      family: family === 4 ? 'inet' : 'inet6',
      local: address,
      prefixlen: prefix,
      scope: 'global',
    })
    const network = FakeKernel.connected(cidr)
    if (network) {
      if (!this.routes[family].some(r => r.dst === network && r.dev === dev)) {
        this.routes[family].push(
          family === 4
            ? { dst: network, dev, protocol: 'kernel', scope: 'link' }
            : { dst: network, dev, protocol: 'kernel', metric: 256 },
        )
      }
    }
  }

  /** The prefix route the kernel adds with an address (none for a /32 or /128). */
  private static connected(cidr: string): string | undefined {
    const [address, prefixText] = cidr.split('/') as [string, string]
    const family = familyOf(address)
    if (Number(prefixText) >= hostBits(family)) return undefined
    const network = family === 4 ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr)
    return `${network.toString()}/${prefixText}`
  }

  private removeAddress(dev: string, cidr: string): void {
    const [address, prefixText] = cidr.split('/') as [string, string]
    const link = this.link(dev)
    const before = link.addr_info!.length
    link.addr_info = link.addr_info!.filter(a => !(a.local === address && a.prefixlen === Number(prefixText)))
    if (link.addr_info.length === before)
      throw new Error(`RTNETLINK answers: Cannot assign requested address (${cidr})`)
    const network = FakeKernel.connected(cidr)
    const stillCovered = link.addr_info.some(a => FakeKernel.connected(`${a.local}/${a.prefixlen}`) === network)
    if (network && !stillCovered) {
      const family = familyOf(address)
      this.routes[family] = this.routes[family].filter(
        r => !(r.dst === network && r.dev === dev && r.protocol === 'kernel'),
      )
    }
  }

  private static destination(route: IpRoute, family: Family): string {
    if (route.dst === 'default') return 'default'
    return route.dst.includes('/') ? route.dst : `${route.dst}/${hostBits(family)}`
  }

  private static printed(destination: string, family: Family): string {
    // `ip -j route` prints host routes without their /32 or /128.
    return destination.endsWith(`/${hostBits(family)}`)
      ? destination.slice(0, destination.lastIndexOf('/'))
      : destination
  }

  private replaceDefault(route: DefaultRoute): void {
    const metric = route.metric ?? (route.family === 4 ? 0 : 1024)
    const table = this.routes[route.family]
    this.routes[route.family] = table.filter(r => !(r.dst === 'default' && (r.metric ?? 0) === metric))
    const printed: IpRoute = { dst: 'default', gateway: route.gateway, dev: route.dev, flags: [] }
    if (route.protocol) printed.protocol = route.protocol
    if (metric !== 0) printed.metric = metric
    this.routes[route.family].unshift(printed)
  }

  run(steps: Step[]): void {
    for (const step of steps) {
      switch (step.action) {
        case 'link-up': {
          const link = this.link(step.dev)
          if (!link.flags.includes('UP')) link.flags.push('UP')
          break
        }
        case 'add-address':
          this.addAddress(step.dev, step.cidr)
          break
        case 'remove-address':
          this.removeAddress(step.dev, step.cidr)
          break
        case 'add-route': {
          this.link(step.dev)
          const table = this.routes[step.family]
          const same = (r: IpRoute) =>
            r.dst !== 'default' && FakeKernel.destination(r, step.family) === step.destination
          if (!step.replace && table.some(same)) throw new Error(`RTNETLINK answers: File exists (${step.destination})`)
          this.routes[step.family] = table.filter(r => !same(r))
          const route: IpRoute = { dst: FakeKernel.printed(step.destination, step.family), dev: step.dev, flags: [] }
          if (step.via) route.gateway = step.via
          if (step.family === 6) route.metric = 1024
          this.routes[step.family].push(route)
          break
        }
        case 'remove-route': {
          const table = this.routes[step.family]
          const index = table.findIndex(
            r =>
              FakeKernel.destination(r, step.family) === step.destination &&
              r.gateway === step.via &&
              r.dev === step.dev,
          )
          if (index < 0) throw new Error(`RTNETLINK answers: No such process (${step.destination})`)
          table.splice(index, 1)
          break
        }
        case 'set-sysctl':
          if (!this.sysctls.has(step.path)) throw new Error(`no ${step.path}`)
          this.sysctls.set(step.path, step.value)
          break
        case 'switch-default-route':
          if (step.to.dev) this.link(step.to.dev)
          this.replaceDefault(step.to)
          break
        case 'remove-default-route': {
          const table = this.routes[step.family]
          const index = table.findIndex(
            r =>
              r.dst === 'default' &&
              r.gateway === step.route.gateway &&
              r.dev === step.route.dev &&
              (r.metric ?? (step.family === 4 ? 0 : 1024)) === step.route.metric,
          )
          if (index < 0) throw new Error('RTNETLINK answers: No such process (default)')
          table.splice(index, 1)
          break
        }
      }
    }
  }

  /** Everything observable, in a comparable form. */
  snapshot(): unknown {
    const canonical = (r: IpRoute) =>
      JSON.stringify(
        Object.fromEntries(
          Object.entries(r)
            .filter(([, v]) => v !== undefined)
            .sort(),
        ),
      )
    const sortRoutes = (routes: IpRoute[]) => routes.map(canonical).sort()
    return {
      links: [...this.links.values()].map(l => ({
        ...l,
        addr_info: [...(l.addr_info ?? [])].map(a => `${a.local}/${a.prefixlen}`).sort(),
      })),
      routes: { 4: sortRoutes(this.routes[4]), 6: sortRoutes(this.routes[6]) },
      sysctls: Object.fromEntries([...this.sysctls].sort()),
    }
  }
}

// ---------------------------------------------------------------------------------------
// Scenario helpers

const BRIDGE = 'xapi1'
const MGMT = 'xenbr0'
const NOW = '2026-01-01T00:00:00.000Z'
const LATER = '2026-01-02T00:00:00.000Z'

/** dom0 with its management bridge and a DHCP default route through it (metric 100). */
function dom0(): FakeKernel {
  return new FakeKernel()
    .addLink(MGMT, { addresses: ['192.168.1.10/24'] })
    .addLink(BRIDGE)
    .addRoute(4, { dst: 'default', gateway: '192.168.1.1', dev: MGMT, protocol: 'dhcp', metric: 100, flags: [] })
}

const V4_PREVIOUS: DefaultRoute = {
  family: 4,
  gateway: '192.168.1.1',
  dev: MGMT,
  metric: 100,
  protocol: 'dhcp',
  onlink: undefined,
}

const FULL: PluginArgs = {
  bridge: BRIDGE,
  addresses: '10.0.0.2/24,fd00:1::2/64',
  gateway: '10.0.0.1,fd00:1::1',
  routes: '172.16.0.0/12=10.0.0.1,10.9.9.9,fd00:2::/48=fd00:1::1',
  'management-address': '10.0.0.2',
  'management-bridge': MGMT,
}

const request = (args: PluginArgs) => parseApplyArgs(args)

/** Plans an apply from the kernel's current state and runs it, make then break. */
function applyOn(kernel: FakeKernel, args: PluginArgs, record: BridgeRecord, now = NOW): Plan {
  const req = request(args)
  const plan = planApply(req, kernel.observe(req.bridge, req.management?.bridge), record, now)
  kernel.run([...plan.make, ...plan.break])
  return plan
}

function releaseOn(kernel: FakeKernel, record: BridgeRecord): Step[] {
  const steps = planRelease(record, kernel.observe(record.bridge, record.mirrors[0]?.dev))
  kernel.run(steps)
  return steps
}

const actions = (steps: Step[]) => steps.map(s => s.action)
const REMOVALS = new Set<Step['action']>(['remove-address', 'remove-route', 'remove-default-route'])

function assertBinderError(run: () => unknown, code: string, ...named: string[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof BinderError, `expected a BinderError, got ${String(error)}`)
    assert.equal(error.code, code)
    for (const text of named)
      assert.ok(error.message.includes(text), `message ${JSON.stringify(error.message)} does not name ${text}`)
    return true
  })
}

const PROMOTE = sysctlPath(4, BRIDGE, 'promote_secondaries')

// ---------------------------------------------------------------------------------------

describe('planApply: a first apply', () => {
  test('makes everything, breaks nothing, in dependency order', () => {
    const kernel = dom0()
    const plan = planApply(request(FULL), kernel.observe(BRIDGE, MGMT), emptyRecord(BRIDGE), NOW)
    assert.deepEqual(plan.make, [
      { action: 'add-address', dev: BRIDGE, cidr: '10.0.0.2/24' },
      { action: 'add-address', dev: BRIDGE, cidr: 'fd00:1::2/64' },
      { action: 'add-address', dev: MGMT, cidr: '10.0.0.2/32' },
      { action: 'set-sysctl', path: PROMOTE, value: '1', previous: '0' },
      { action: 'add-route', family: 4, destination: '172.16.0.0/12', via: '10.0.0.1', dev: BRIDGE, replace: false },
      { action: 'add-route', family: 4, destination: '10.9.9.9/32', via: undefined, dev: BRIDGE, replace: false },
      { action: 'add-route', family: 6, destination: 'fd00:2::/48', via: 'fd00:1::1', dev: BRIDGE, replace: false },
      {
        action: 'switch-default-route',
        family: 4,
        to: { family: 4, gateway: '10.0.0.1', dev: BRIDGE, metric: 100 },
        from: V4_PREVIOUS,
        description: 'default via 192.168.1.1 dev xenbr0 metric 100 -> default via 10.0.0.1 dev xapi1 metric 100',
      },
      {
        action: 'switch-default-route',
        family: 6,
        to: { family: 6, gateway: 'fd00:1::1', dev: BRIDGE, metric: 1024 },
        from: null,
        description: 'none -> default via fd00:1::1 dev xapi1 metric 1024',
      },
    ] satisfies Step[])
    assert.deepEqual(plan.break, [])
    assert.deepEqual(plan.unchanged, [])
  })

  test('the final record owns exactly what it adds and remembers what it displaced', () => {
    const req = request(FULL)
    const plan = planApply(req, dom0().observe(BRIDGE, MGMT), emptyRecord(BRIDGE), NOW)
    assert.deepEqual(plan.final, {
      bridge: BRIDGE,
      desired: encodeApplyArgs(req),
      addresses: ['10.0.0.2/24', 'fd00:1::2/64'],
      mirrors: [{ dev: MGMT, cidr: '10.0.0.2/32' }],
      routes: [
        { destination: '172.16.0.0/12', via: '10.0.0.1' },
        { destination: '10.9.9.9/32', via: undefined },
        { destination: 'fd00:2::/48', via: 'fd00:1::1' },
      ],
      defaultRoutes: [
        { family: 4, ours: { family: 4, gateway: '10.0.0.1', dev: BRIDGE, metric: 100 }, previous: V4_PREVIOUS },
        { family: 6, ours: { family: 6, gateway: 'fd00:1::1', dev: BRIDGE, metric: 1024 }, previous: null },
      ],
      sysctls: [{ path: PROMOTE, value: '1', previous: '0' }],
      updatedAt: NOW,
    } satisfies BridgeRecord)
    assert.deepEqual(plan.intent, plan.final) // nothing old to keep
  })

  test('a bridge that is down is brought up first', () => {
    const kernel = dom0()
    kernel.links.get(BRIDGE)!.flags = ['BROADCAST', 'MULTICAST']
    const plan = planApply(
      request({ bridge: BRIDGE, addresses: '10.0.0.2/24' }),
      kernel.observe(BRIDGE),
      emptyRecord(BRIDGE),
      NOW,
    )
    assert.deepEqual(plan.make[0], { action: 'link-up', dev: BRIDGE })
    assert.deepEqual(actions(plan.make), ['link-up', 'add-address', 'set-sysctl'])
  })

  test('an IPv6-only request owns no IPv4 sysctl', () => {
    const plan = planApply(
      request({ bridge: BRIDGE, addresses: 'fd00:1::2/64' }),
      dom0().observe(BRIDGE),
      emptyRecord(BRIDGE),
      NOW,
    )
    assert.deepEqual(plan.make, [{ action: 'add-address', dev: BRIDGE, cidr: 'fd00:1::2/64' }])
    assert.deepEqual(plan.final.sysctls, [])
  })
})

describe('planApply: missing devices', () => {
  test('missing bridge → NO_SUCH_DEVICE naming it', () => {
    const kernel = dom0()
    kernel.removeLink(BRIDGE)
    assertBinderError(
      () => planApply(request(FULL), kernel.observe(BRIDGE, MGMT), emptyRecord(BRIDGE), NOW),
      ErrorCode.NO_SUCH_DEVICE,
      BRIDGE,
    )
    try {
      planApply(request(FULL), kernel.observe(BRIDGE, MGMT), emptyRecord(BRIDGE), NOW)
    } catch (error) {
      assert.deepEqual((error as BinderError).errorDescription.slice(0, 1), ['VIF_IP_BINDER_NO_SUCH_DEVICE'])
      assert.deepEqual((error as BinderError).details, [BRIDGE])
    }
  })

  test('missing management bridge → NO_SUCH_DEVICE naming it', () => {
    const kernel = dom0()
    kernel.removeLink(MGMT)
    assertBinderError(
      () => planApply(request(FULL), kernel.observe(BRIDGE, MGMT), emptyRecord(BRIDGE), NOW),
      ErrorCode.NO_SUCH_DEVICE,
      MGMT,
    )
  })

  test('a wanted sysctl the kernel does not have → NO_SUCH_DEVICE naming the path', () => {
    const kernel = dom0()
    const path = sysctlPath(4, BRIDGE, 'proxy_arp')
    kernel.sysctls.delete(path)
    assertBinderError(
      () =>
        planApply(
          request({ bridge: BRIDGE, addresses: '10.0.0.2/24', 'proxy-arp': 'true' }),
          kernel.observe(BRIDGE),
          emptyRecord(BRIDGE),
          NOW,
        ),
      ErrorCode.NO_SUCH_DEVICE,
      path,
    )
  })
})

describe('planApply: convergence (a second plan from the post-apply observation is empty)', () => {
  const scenarios: [string, PluginArgs, (k: FakeKernel) => void][] = [
    ['full dual stack', FULL, () => {}],
    ['IPv4 only, no gateway', { bridge: BRIDGE, addresses: '10.0.0.2/24' }, () => {}],
    ['IPv6 only with gateway', { bridge: BRIDGE, addresses: 'fd00:1::2/64', gateway: 'fd00:1::1' }, () => {}],
    ['proxy-arp and forwarding', { ...FULL, 'proxy-arp': 'true', forwarding: 'true' }, () => {}],
    [
      'bridge down, no default route yet',
      FULL,
      k => {
        k.links.get(BRIDGE)!.flags = ['BROADCAST']
        k.routes[4] = k.routes[4].filter(r => r.dst !== 'default')
      },
    ],
    [
      'default route without a metric (ip -j omits metric 0)',
      FULL,
      k => {
        k.routes[4] = [
          { dst: 'default', gateway: '192.168.1.1', dev: MGMT, flags: [] },
          ...k.routes[4].filter(r => r.dst !== 'default'),
        ]
      },
    ],
    [
      'a foreign address already on the bridge',
      FULL,
      k => k.run([{ action: 'add-address', dev: BRIDGE, cidr: '10.0.0.50/24' }]),
    ],
  ]
  for (const [name, args, prepare] of scenarios) {
    test(name, () => {
      const kernel = dom0()
      prepare(kernel)
      const first = applyOn(kernel, args, emptyRecord(BRIDGE))
      assert.ok(first.make.length > 0)
      const req = request(args)
      const second = planApply(req, kernel.observe(BRIDGE, req.management?.bridge), first.final, LATER)
      assert.deepEqual(second.make, [])
      assert.deepEqual(second.break, [])
      assert.deepEqual({ ...second.final, updatedAt: NOW }, first.final)
      assert.deepEqual(second.intent, second.final)
      // What the first plan made is now reported as unchanged, one entry per owned thing.
      const owned = first.final
      const expectedUnchanged =
        owned.addresses.length +
        owned.mirrors.length +
        owned.routes.length +
        owned.defaultRoutes.length +
        owned.sysctls.length
      assert.equal(second.unchanged.length, expectedUnchanged)
    })
  }
})

describe('planApply: make before break', () => {
  test('changing the address adds the new one in make and removes the old one in break', () => {
    const kernel = dom0()
    const first = applyOn(
      kernel,
      { bridge: BRIDGE, addresses: '10.0.0.2/24', gateway: '10.0.0.1' },
      emptyRecord(BRIDGE),
    )
    const req = request({ bridge: BRIDGE, addresses: '10.0.0.3/24', gateway: '10.0.0.1' })
    const plan = planApply(req, kernel.observe(BRIDGE), first.final, LATER)
    assert.deepEqual(plan.make, [{ action: 'add-address', dev: BRIDGE, cidr: '10.0.0.3/24' }])
    assert.deepEqual(plan.break, [{ action: 'remove-address', dev: BRIDGE, cidr: '10.0.0.2/24' }])
    assert.deepEqual(plan.final.addresses, ['10.0.0.3/24'])
    assert.deepEqual(plan.intent.addresses, ['10.0.0.3/24', '10.0.0.2/24'])
  })

  test('changing the gateway is one switch in make (a replace), never a removal', () => {
    const kernel = dom0()
    const first = applyOn(kernel, FULL, emptyRecord(BRIDGE))
    const plan = planApply(
      request({ ...FULL, gateway: '10.0.0.254,fd00:1::1' }),
      kernel.observe(BRIDGE, MGMT),
      first.final,
      LATER,
    )
    assert.deepEqual(plan.make, [
      {
        action: 'switch-default-route',
        family: 4,
        to: { family: 4, gateway: '10.0.0.254', dev: BRIDGE, metric: 100 },
        from: { family: 4, gateway: '10.0.0.1', dev: BRIDGE, metric: 100, protocol: undefined, onlink: undefined },
        description: 'default via 10.0.0.1 dev xapi1 metric 100 -> default via 10.0.0.254 dev xapi1 metric 100',
      },
    ] satisfies Step[])
    assert.deepEqual(plan.break, [])
  })

  test('across a whole reconfiguration, make only adds and break only removes or restores', () => {
    const kernel = dom0()
    const first = applyOn(kernel, { ...FULL, 'proxy-arp': 'true' }, emptyRecord(BRIDGE))
    const plan = planApply(
      request({ bridge: BRIDGE, addresses: '10.0.0.3/24', gateway: '10.0.0.1', routes: '172.20.0.0/16=10.0.0.1' }),
      kernel.observe(BRIDGE),
      first.final,
      LATER,
    )
    assert.ok(plan.make.length > 0 && plan.break.length > 0)
    for (const step of plan.make) {
      assert.ok(!REMOVALS.has(step.action), `removal in make: ${JSON.stringify(step)}`)
      if (step.action === 'switch-default-route') assert.equal(step.to.dev, BRIDGE)
    }
    for (const step of plan.break) {
      assert.ok(
        REMOVALS.has(step.action) ||
          step.action === 'set-sysctl' ||
          (step.action === 'switch-default-route' && step.to.dev !== BRIDGE),
        `not a removal or restore in break: ${JSON.stringify(step)}`,
      )
    }
  })
})

describe('planApply: own only what you add', () => {
  test('an address already present and not recorded is unchanged and not owned', () => {
    const kernel = dom0()
    kernel.run([{ action: 'add-address', dev: BRIDGE, cidr: '10.0.0.2/24' }])
    const plan = planApply(
      request({ bridge: BRIDGE, addresses: '10.0.0.2/24,10.0.0.3/24' }),
      kernel.observe(BRIDGE),
      emptyRecord(BRIDGE),
      NOW,
    )
    assert.deepEqual(
      plan.make.filter(s => s.action === 'add-address'),
      [{ action: 'add-address', dev: BRIDGE, cidr: '10.0.0.3/24' }],
    )
    assert.deepEqual(plan.unchanged, [{ what: 'address', value: '10.0.0.2/24 dev xapi1' }])
    assert.deepEqual(plan.final.addresses, ['10.0.0.3/24'])
    assert.deepEqual(plan.intent.addresses, ['10.0.0.3/24'])
  })

  test('an address present and recorded stays owned', () => {
    const kernel = dom0()
    kernel.run([{ action: 'add-address', dev: BRIDGE, cidr: '10.0.0.2/24' }])
    const record = { ...emptyRecord(BRIDGE), addresses: ['10.0.0.2/24'] }
    const plan = planApply(request({ bridge: BRIDGE, addresses: '10.0.0.2/24' }), kernel.observe(BRIDGE), record, NOW)
    assert.deepEqual(plan.final.addresses, ['10.0.0.2/24'])
    assert.ok(!plan.make.some(s => s.action === 'add-address'))
  })

  test('the same address with another prefix is not "present"', () => {
    const kernel = dom0()
    kernel.run([{ action: 'add-address', dev: BRIDGE, cidr: '10.0.0.2/16' }])
    const plan = planApply(
      request({ bridge: BRIDGE, addresses: '10.0.0.2/24' }),
      kernel.observe(BRIDGE),
      emptyRecord(BRIDGE),
      NOW,
    )
    assert.deepEqual(plan.make[0], { action: 'add-address', dev: BRIDGE, cidr: '10.0.0.2/24' })
    assert.deepEqual(plan.final.addresses, ['10.0.0.2/24'])
  })

  test('a mirror, a route and a sysctl already in place are not owned', () => {
    const kernel = dom0()
    kernel.run([
      { action: 'add-address', dev: BRIDGE, cidr: '10.0.0.2/24' },
      { action: 'add-address', dev: MGMT, cidr: '10.0.0.2/32' },
      { action: 'add-route', family: 4, destination: '172.16.0.0/12', via: '10.0.0.1', dev: BRIDGE, replace: false },
      { action: 'set-sysctl', path: PROMOTE, value: '1', previous: '0' },
    ])
    const plan = planApply(
      request({
        bridge: BRIDGE,
        addresses: '10.0.0.2/24',
        routes: '172.16.0.0/12=10.0.0.1',
        'management-address': '10.0.0.2',
        'management-bridge': MGMT,
      }),
      kernel.observe(BRIDGE, MGMT),
      emptyRecord(BRIDGE),
      NOW,
    )
    assert.deepEqual(plan.make, [])
    assert.deepEqual(plan.unchanged, [
      { what: 'address', value: '10.0.0.2/24 dev xapi1' },
      { what: 'address', value: '10.0.0.2/32 dev xenbr0' },
      { what: 'sysctl', value: `${PROMOTE}=1` },
      { what: 'route', value: '172.16.0.0/12 via 10.0.0.1 dev xapi1' },
    ])
    assert.deepEqual(
      [plan.final.addresses, plan.final.mirrors, plan.final.routes, plan.final.sysctls],
      [[], [], [], []],
    )
    // …so a release gives none of them away.
    assert.deepEqual(planRelease(plan.final, kernel.observe(BRIDGE, MGMT)), [])
  })

  test('apply then release leaves the host exactly as it was, foreign things included', () => {
    const kernel = dom0()
    kernel.run([{ action: 'add-address', dev: BRIDGE, cidr: '10.0.0.50/24' }])
    kernel.addRoute(4, { dst: '192.168.77.0/24', gateway: '10.0.0.50', dev: BRIDGE, flags: [] })
    const before = kernel.snapshot()
    const { final } = applyOn(kernel, { ...FULL, 'proxy-arp': 'true', forwarding: 'true' }, emptyRecord(BRIDGE))
    assert.notDeepEqual(kernel.snapshot(), before)
    releaseOn(kernel, final)
    assert.deepEqual(kernel.snapshot(), before)
  })

  test('a sysctl keeps the value found the first time across re-applies', () => {
    const kernel = dom0()
    const path = sysctlPath(4, BRIDGE, 'proxy_arp')
    const args = { bridge: BRIDGE, addresses: '10.0.0.2/24', 'proxy-arp': 'true' }
    const first = applyOn(kernel, args, emptyRecord(BRIDGE))
    assert.deepEqual(
      first.final.sysctls.find(s => s.path === path),
      { path, value: '1', previous: '0' },
    )
    const second = planApply(request(args), kernel.observe(BRIDGE), first.final, LATER)
    assert.deepEqual(
      second.final.sysctls.find(s => s.path === path),
      { path, value: '1', previous: '0' },
    )
  })
})

describe('planApply: default routes', () => {
  const v4 = { bridge: BRIDGE, addresses: '10.0.0.2/24', gateway: '10.0.0.1' }
  const switchOf = (plan: Plan, family: Family) =>
    plan.make.find(
      (s): s is Extract<Step, { action: 'switch-default-route' }> =>
        s.action === 'switch-default-route' && s.family === family,
    )

  const metricCases: [string, IpRoute[], number, DefaultRoute | null][] = [
    [
      'takes the metric of the route in use',
      [{ dst: 'default', gateway: '192.168.1.1', dev: MGMT, metric: 100, protocol: 'dhcp', flags: [] }],
      100,
      V4_PREVIOUS,
    ],
    [
      'metric 0 when the route in use prints none',
      [{ dst: 'default', gateway: '192.168.1.1', dev: MGMT, flags: [] }],
      0,
      { family: 4, gateway: '192.168.1.1', dev: MGMT, metric: 0, protocol: undefined, onlink: undefined },
    ],
    [
      'the lowest metric is the route in use',
      [
        { dst: 'default', gateway: '192.168.1.254', dev: MGMT, metric: 200, flags: [] },
        { dst: 'default', gateway: '192.168.1.1', dev: MGMT, metric: 50, flags: [] },
      ],
      50,
      { family: 4, gateway: '192.168.1.1', dev: MGMT, metric: 50, protocol: undefined, onlink: undefined },
    ],
    ['the kernel default metric when there is no default route', [], 0, null],
  ]
  for (const [name, defaults, metric, previous] of metricCases) {
    test(name, () => {
      const kernel = dom0()
      kernel.routes[4] = [...kernel.routes[4].filter(r => r.dst !== 'default'), ...defaults]
      const plan = planApply(request(v4), kernel.observe(BRIDGE), emptyRecord(BRIDGE), NOW)
      assert.deepEqual(switchOf(plan, 4)?.to, { family: 4, gateway: '10.0.0.1', dev: BRIDGE, metric })
      assert.deepEqual(switchOf(plan, 4)?.from, previous)
      assert.deepEqual(plan.final.defaultRoutes, [
        { family: 4, ours: { family: 4, gateway: '10.0.0.1', dev: BRIDGE, metric }, previous },
      ])
    })
  }

  test('IPv6 without a default route uses the kernel default metric 1024', () => {
    const plan = planApply(
      request({ bridge: BRIDGE, addresses: 'fd00:1::2/64', gateway: 'fd00:1::1' }),
      dom0().observe(BRIDGE),
      emptyRecord(BRIDGE),
      NOW,
    )
    assert.deepEqual(switchOf(plan, 6)?.to, { family: 6, gateway: 'fd00:1::1', dev: BRIDGE, metric: 1024 })
  })

  test('the FIRST previous default route is kept across re-applies and gateway changes', () => {
    const kernel = dom0()
    let record = applyOn(kernel, v4, emptyRecord(BRIDGE)).final
    for (const gateway of ['10.0.0.254', '10.0.0.1', '10.0.0.1']) {
      const plan = applyOn(kernel, { ...v4, gateway }, record, LATER)
      assert.deepEqual(plan.final.defaultRoutes, [
        { family: 4, ours: { family: 4, gateway, dev: BRIDGE, metric: 100 }, previous: V4_PREVIOUS },
      ])
      record = plan.final
    }
    // and the kernel holds exactly one default route: ours, in the slot of the one it replaced
    assert.deepEqual(
      kernel.routes[4].filter(r => r.dst === 'default'),
      [{ dst: 'default', gateway: '10.0.0.1', dev: BRIDGE, metric: 100, flags: [] }],
    )
  })

  test('bridge vanished and came back: everything is bound again, the first previous route is kept', () => {
    const kernel = dom0()
    const first = applyOn(kernel, FULL, emptyRecord(BRIDGE))
    kernel.removeLink(BRIDGE) // xapi destroyed it: our default routes went with it
    kernel.addLink(BRIDGE)
    const observed = kernel.observe(BRIDGE, MGMT)
    assert.deepEqual(observed.defaults[4], [])
    assert.deepEqual(observed.defaults[6], [])
    const plan = planApply(request(FULL), observed, first.final, LATER)
    assert.deepEqual(plan.final.defaultRoutes, first.final.defaultRoutes)
    assert.deepEqual(switchOf(plan, 4), {
      action: 'switch-default-route',
      family: 4,
      to: { family: 4, gateway: '10.0.0.1', dev: BRIDGE, metric: 100 },
      // Undoing it (a failed gateway check) falls back to the route first displaced: the
      // slot is empty only because our route went with the bridge.
      from: first.final.defaultRoutes.find(d => d.family === 4)!.previous,
      description: 'none -> default via 10.0.0.1 dev xapi1 metric 100',
    })
    assert.deepEqual(
      plan.make
        .filter(s => s.action === 'add-address' || s.action === 'add-route')
        .map(s => ('cidr' in s ? s.cidr : `${s.destination} replace=${s.replace}`)),
      [
        '10.0.0.2/24',
        'fd00:1::2/64',
        '172.16.0.0/12 replace=false',
        '10.9.9.9/32 replace=false',
        'fd00:2::/48 replace=false',
      ],
    )
    // the mirror survived on the management bridge: still ours, nothing to do
    assert.ok(!plan.make.some(s => s.action === 'add-address' && s.dev === MGMT))
    assert.deepEqual(plan.final.mirrors, first.final.mirrors)
    assert.deepEqual(plan.final.addresses, first.final.addresses)
    assert.deepEqual(plan.final.routes, first.final.routes)
    assert.deepEqual(plan.break, [])
    // a release after that gives back the route displaced on the very first apply
    kernel.run([...plan.make, ...plan.break])
    releaseOn(kernel, plan.final)
    assert.deepEqual(
      kernel.routes[4].filter(r => r.dst === 'default'),
      [{ dst: 'default', gateway: '192.168.1.1', dev: MGMT, metric: 100, protocol: 'dhcp', flags: [] }],
    )
    assert.deepEqual(
      kernel.routes[6].filter(r => r.dst === 'default'),
      [],
    )
  })

  test('a gateway dropped from the request gives its family back in break', () => {
    const kernel = dom0()
    const first = applyOn(kernel, FULL, emptyRecord(BRIDGE))
    const plan = planApply(request({ ...FULL, gateway: 'fd00:1::1' }), kernel.observe(BRIDGE, MGMT), first.final, LATER)
    assert.deepEqual(plan.make, [])
    assert.deepEqual(plan.break, [
      {
        action: 'switch-default-route',
        family: 4,
        to: V4_PREVIOUS,
        from: { family: 4, gateway: '10.0.0.1', dev: BRIDGE, metric: 100, protocol: undefined, onlink: undefined },
        description: 'default via 10.0.0.1 dev xapi1 metric 100 -> default via 192.168.1.1 dev xenbr0 metric 100',
      },
    ] satisfies Step[])
    assert.deepEqual(
      plan.final.defaultRoutes.map(d => d.family),
      [6],
    )
    assert.deepEqual(
      plan.intent.defaultRoutes.map(d => d.family),
      [6, 4],
    )
  })
})

describe('planApply: default routes are judged in their own metric slot', () => {
  // The route in use is the lowest metric; ours lives in one slot (metric).
  test('apply after the bridge came back, with a higher-metric foreign default left: nothing is displaced', () => {
    const kernel = dom0().addRoute(4, { dst: 'default', gateway: '192.168.1.254', dev: MGMT, metric: 200, flags: [] })
    const first = applyOn(
      kernel,
      { bridge: BRIDGE, addresses: '10.0.0.2/24', gateway: '10.0.0.1' },
      emptyRecord(BRIDGE),
    )
    kernel.removeLink(BRIDGE)
    kernel.addLink(BRIDGE)
    const plan = planApply(
      request({ bridge: BRIDGE, addresses: '10.0.0.2/24', gateway: '10.0.0.1' }),
      kernel.observe(BRIDGE),
      first.final,
      LATER,
    )
    const step = plan.make.find(s => s.action === 'switch-default-route')
    assert.ok(step && step.action === 'switch-default-route')
    assert.deepEqual(step.to, { family: 4, gateway: '10.0.0.1', dev: BRIDGE, metric: 100 })
    // The slot (metric 100) is empty: undoing this switch must put back the route first
    // displaced in that slot, not "restore" the metric-200 route, which it never replaced.
    assert.deepEqual(step.from, first.final.defaultRoutes[0]!.previous)
    assert.equal(step.from?.metric, 100)
  })

  test('release after the bridge vanished restores the previous route even if a higher-metric default remains', () => {
    const kernel = dom0().addRoute(4, { dst: 'default', gateway: '192.168.1.254', dev: MGMT, metric: 200, flags: [] })
    const { final } = applyOn(
      kernel,
      { bridge: BRIDGE, addresses: '10.0.0.2/24', gateway: '10.0.0.1' },
      emptyRecord(BRIDGE),
    )
    kernel.removeLink(BRIDGE) // ours is gone; the metric-200 route was never ours to judge by
    const steps = planRelease(final, kernel.observe(BRIDGE))
    assert.deepEqual(
      steps
        .filter(s => s.action === 'switch-default-route')
        .map(s => (s.action === 'switch-default-route' ? s.to : null)),
      [V4_PREVIOUS],
    )
  })

  test('release while ours is still in place under a newer lower-metric route still gives ours back', () => {
    const kernel = dom0()
    const { final } = applyOn(
      kernel,
      { bridge: BRIDGE, addresses: '10.0.0.2/24', gateway: '10.0.0.1' },
      emptyRecord(BRIDGE),
    )
    kernel.addRoute(4, { dst: 'default', gateway: '192.168.1.2', dev: MGMT, metric: 10, flags: [] }) // somebody's, kept
    releaseOn(kernel, final)
    // ours (via the firewall, metric 100) must not outlive the record that owns it
    assert.deepEqual(
      kernel.routes[4]
        .filter(r => r.dst === 'default')
        .map(r => `${r.gateway} ${r.dev} ${r.metric}`)
        .sort(),
      ['192.168.1.1 xenbr0 100', '192.168.1.2 xenbr0 10'],
    )
  })
})

describe('planApply: routes', () => {
  const conflicts: [string, IpRoute, Family, string][] = [
    [
      'foreign route elsewhere',
      { dst: '172.16.0.0/12', gateway: '192.168.1.254', dev: MGMT, flags: [] },
      4,
      '172.16.0.0/12=10.0.0.1',
    ],
    [
      'foreign route on the same bridge, other next hop',
      { dst: '172.16.0.0/12', gateway: '10.0.0.99', dev: BRIDGE, flags: [] },
      4,
      '172.16.0.0/12=10.0.0.1',
    ],
    [
      'foreign host route printed without /32',
      { dst: '10.9.9.9', gateway: '192.168.1.254', dev: MGMT, flags: [] },
      4,
      '10.9.9.9',
    ],
    [
      'foreign on-link route elsewhere',
      { dst: '172.16.0.0/12', dev: MGMT, scope: 'link', flags: [] },
      4,
      '172.16.0.0/12',
    ],
    [
      'foreign IPv6 route',
      { dst: 'fd00:2::/48', gateway: 'fe80::1', dev: MGMT, metric: 1024, flags: [] },
      6,
      'fd00:2::/48=fd00:1::1',
    ],
  ]
  for (const [name, foreign, family, route] of conflicts) {
    test(`CONFLICT: ${name}`, () => {
      const kernel = dom0().addRoute(family, foreign)
      const destination = route.split('=')[0]!
      const expected = destination.includes('/') ? destination : `${destination}/32`
      assertBinderError(
        () => planApply(request({ ...FULL, routes: route }), kernel.observe(BRIDGE, MGMT), emptyRecord(BRIDGE), NOW),
        ErrorCode.CONFLICT,
        expected,
      )
    })
  }

  test('our recorded route with a new next hop is replaced, not a conflict', () => {
    const kernel = dom0()
    const first = applyOn(kernel, FULL, emptyRecord(BRIDGE))
    const plan = planApply(
      request({ ...FULL, routes: '172.16.0.0/12=10.0.0.254,10.9.9.9,fd00:2::/48=fd00:1::1' }),
      kernel.observe(BRIDGE, MGMT),
      first.final,
      LATER,
    )
    assert.deepEqual(plan.make, [
      {
        action: 'add-route',
        family: 4,
        destination: '172.16.0.0/12',
        via: '10.0.0.254',
        dev: BRIDGE,
        replace: true,
        previous: { via: '10.0.0.1', dev: BRIDGE },
      },
    ])
    assert.deepEqual(plan.break, [])
    assert.deepEqual(plan.final.routes[0], { destination: '172.16.0.0/12', via: '10.0.0.254' })
  })

  test('a route to another destination than ours does not conflict', () => {
    const kernel = dom0().addRoute(4, { dst: '172.16.0.0/16', gateway: '192.168.1.254', dev: MGMT, flags: [] })
    const plan = planApply(
      request({ ...FULL, routes: '172.16.0.0/12=10.0.0.1' }),
      kernel.observe(BRIDGE, MGMT),
      emptyRecord(BRIDGE),
      NOW,
    )
    assert.ok(plan.make.some(s => s.action === 'add-route' && s.destination === '172.16.0.0/12'))
  })
})

describe('planApply: stale owned items and intent', () => {
  test('everything dropped from the request goes to break; intent is the union', () => {
    const kernel = dom0()
    const old = applyOn(kernel, { ...FULL, 'proxy-arp': 'true' }, emptyRecord(BRIDGE))
    const req = request({
      bridge: BRIDGE,
      addresses: '10.0.0.2/24',
      gateway: '10.0.0.1',
      routes: '172.20.0.0/16=10.0.0.1',
    })
    const plan = planApply(req, kernel.observe(BRIDGE, MGMT), old.final, LATER)
    assert.deepEqual(plan.make, [
      { action: 'add-route', family: 4, destination: '172.20.0.0/16', via: '10.0.0.1', dev: BRIDGE, replace: false },
    ])
    const proxyArp = sysctlPath(4, BRIDGE, 'proxy_arp')
    assert.deepEqual(
      new Set(plan.break.map(s => JSON.stringify(s))),
      new Set(
        [
          { action: 'remove-address', dev: BRIDGE, cidr: 'fd00:1::2/64' },
          { action: 'remove-address', dev: MGMT, cidr: '10.0.0.2/32' },
          { action: 'set-sysctl', path: proxyArp, value: '0', previous: '1' },
          { action: 'remove-route', family: 4, destination: '172.16.0.0/12', via: '10.0.0.1', dev: BRIDGE },
          { action: 'remove-route', family: 4, destination: '10.9.9.9/32', via: undefined, dev: BRIDGE },
          { action: 'remove-route', family: 6, destination: 'fd00:2::/48', via: 'fd00:1::1', dev: BRIDGE },
          {
            action: 'remove-default-route',
            family: 6,
            route: {
              family: 6,
              gateway: 'fd00:1::1',
              dev: BRIDGE,
              metric: 1024,
              protocol: undefined,
              onlink: undefined,
            },
            description: 'default via fd00:1::1 dev xapi1 metric 1024',
          },
        ].map(s => JSON.stringify(s)),
      ),
    )
    assert.deepEqual(plan.final.addresses, ['10.0.0.2/24'])
    assert.deepEqual(plan.final.mirrors, [])
    assert.deepEqual(plan.final.routes, [{ destination: '172.20.0.0/16', via: '10.0.0.1' }])
    assert.deepEqual(
      plan.final.defaultRoutes.map(d => d.family),
      [4],
    )
    assert.deepEqual(
      plan.final.sysctls.map(s => s.path),
      [PROMOTE],
    )
    assert.deepEqual(plan.intent, {
      ...plan.final,
      addresses: ['10.0.0.2/24', 'fd00:1::2/64'],
      mirrors: [{ dev: MGMT, cidr: '10.0.0.2/32' }],
      routes: [{ destination: '172.20.0.0/16', via: '10.0.0.1' }, ...old.final.routes],
      defaultRoutes: [...plan.final.defaultRoutes, old.final.defaultRoutes[1]!],
      sysctls: [...plan.final.sysctls, old.final.sysctls.find(s => s.path === proxyArp)!],
    })
    // and running it converges: the next plan is empty
    kernel.run([...plan.make, ...plan.break])
    const again = planApply(req, kernel.observe(BRIDGE), plan.final, LATER)
    assert.deepEqual([again.make, again.break], [[], []])
  })

  test('stale items already gone from the kernel produce no step', () => {
    const kernel = dom0()
    const record: BridgeRecord = {
      ...emptyRecord(BRIDGE),
      addresses: ['10.0.0.2/24', '10.0.0.3/24'],
      routes: [{ destination: '10.8.0.0/16', via: '10.0.0.1' }],
    }
    kernel.run([{ action: 'add-address', dev: BRIDGE, cidr: '10.0.0.2/24' }])
    const plan = planApply(request({ bridge: BRIDGE, addresses: '10.0.0.2/24' }), kernel.observe(BRIDGE), record, NOW)
    assert.deepEqual(plan.break, [])
    assert.deepEqual(plan.intent.addresses, ['10.0.0.2/24', '10.0.0.3/24'])
    assert.deepEqual(plan.intent.routes, [{ destination: '10.8.0.0/16', via: '10.0.0.1' }])
    assert.deepEqual(plan.final.routes, [])
  })
})

describe('planRelease', () => {
  test('after an apply: the mirror first, then default routes, routes, addresses, sysctls', () => {
    const kernel = dom0()
    const { final } = applyOn(kernel, FULL, emptyRecord(BRIDGE))
    const steps = planRelease(final, kernel.observe(BRIDGE, MGMT))
    // The mirror leaves before the default route comes back through the management bridge:
    // removing a device's last IPv4 address flushes every route through it.
    assert.deepEqual(steps[0], { action: 'remove-address', dev: MGMT, cidr: '10.0.0.2/32' })
    assert.deepEqual(actions(steps.slice(1)), [
      'switch-default-route',
      'remove-default-route',
      'remove-route',
      'remove-route',
      'remove-route',
      'remove-address',
      'remove-address',
      'set-sysctl',
    ])
    assert.deepEqual(steps[1], {
      action: 'switch-default-route',
      family: 4,
      to: V4_PREVIOUS,
      from: { family: 4, gateway: '10.0.0.1', dev: BRIDGE, metric: 100, protocol: undefined, onlink: undefined },
      description: 'default via 10.0.0.1 dev xapi1 metric 100 -> default via 192.168.1.1 dev xenbr0 metric 100',
    })
    assert.deepEqual(steps[2], {
      action: 'remove-default-route',
      family: 6,
      route: { family: 6, gateway: 'fd00:1::1', dev: BRIDGE, metric: 1024, protocol: undefined, onlink: undefined },
      description: 'default via fd00:1::1 dev xapi1 metric 1024',
    })
    assert.deepEqual(steps.at(-1), { action: 'set-sysctl', path: PROMOTE, value: '0', previous: '1' })
    kernel.run(steps)
    assert.deepEqual(planRelease(final, kernel.observe(BRIDGE, MGMT)), [], 'a second release has nothing to do')
  })

  test('bridge gone: restores the previous default route and removes the mirror, nothing else', () => {
    const kernel = dom0()
    const { final } = applyOn(kernel, FULL, emptyRecord(BRIDGE))
    kernel.removeLink(BRIDGE)
    const steps = planRelease(final, kernel.observe(BRIDGE, MGMT))
    assert.deepEqual(steps, [
      { action: 'remove-address', dev: MGMT, cidr: '10.0.0.2/32' },
      {
        action: 'switch-default-route',
        family: 4,
        to: V4_PREVIOUS,
        from: null,
        description: 'none -> default via 192.168.1.1 dev xenbr0 metric 100',
      },
    ] satisfies Step[])
  })

  test('a default route somebody set since is theirs to keep', () => {
    const kernel = dom0()
    const { final } = applyOn(kernel, FULL, emptyRecord(BRIDGE))
    // an admin pointed both families elsewhere, in our slots
    kernel.run([
      {
        action: 'switch-default-route',
        family: 4,
        to: { family: 4, gateway: '192.168.1.2', dev: MGMT, metric: 100 },
        from: null,
        description: '',
      },
      {
        action: 'switch-default-route',
        family: 6,
        to: { family: 6, gateway: 'fe80::1', dev: MGMT, metric: 1024 },
        from: null,
        description: '',
      },
    ])
    const steps = planRelease(final, kernel.observe(BRIDGE, MGMT))
    assert.ok(
      !steps.some(s => s.action === 'switch-default-route' || s.action === 'remove-default-route'),
      JSON.stringify(steps),
    )
  })

  const restoreCases: [string, DefaultRoute | null, boolean, Step['action'][]][] = [
    ['ours in place, previous known → switch back', V4_PREVIOUS, true, ['switch-default-route']],
    ['ours in place, no previous → remove ours', null, true, ['remove-default-route']],
    ['ours gone, previous known → restore it', V4_PREVIOUS, false, ['switch-default-route']],
    ['ours gone, no previous → nothing', null, false, []],
  ]
  for (const [name, previous, oursInPlace, expected] of restoreCases) {
    test(`default route: ${name}`, () => {
      const ours: DefaultRoute = { family: 4, gateway: '10.0.0.1', dev: BRIDGE, metric: 100 }
      const kernel = new FakeKernel().addLink(MGMT).addLink(BRIDGE, { addresses: ['10.0.0.2/24'] })
      if (oursInPlace) kernel.addRoute(4, { dst: 'default', gateway: '10.0.0.1', dev: BRIDGE, metric: 100, flags: [] })
      const record: BridgeRecord = { ...emptyRecord(BRIDGE), defaultRoutes: [{ family: 4, ours, previous }] }
      const steps = planRelease(record, kernel.observe(BRIDGE))
      assert.deepEqual(actions(steps), expected)
      kernel.run(steps)
      assert.deepEqual(
        kernel.routes[4].filter(r => r.dst === 'default').map(r => r.gateway),
        previous ? ['192.168.1.1'] : [],
      )
    })
  }

  test('an empty record releases nothing', () => {
    assert.deepEqual(planRelease(emptyRecord(BRIDGE), dom0().observe(BRIDGE)), [])
  })
})

describe('desiredSysctls', () => {
  const cases: [string, PluginArgs, string[]][] = [
    ['IPv4 address: promote_secondaries', { bridge: BRIDGE, addresses: '10.0.0.2/24' }, [PROMOTE]],
    ['IPv6 only: none', { bridge: BRIDGE, addresses: 'fd00:1::2/64' }, []],
    [
      'proxy-arp',
      { bridge: BRIDGE, addresses: '10.0.0.2/24', 'proxy-arp': 'true' },
      [PROMOTE, sysctlPath(4, BRIDGE, 'proxy_arp')],
    ],
    [
      'forwarding, IPv4 only',
      { bridge: BRIDGE, addresses: '10.0.0.2/24', forwarding: 'true' },
      [PROMOTE, sysctlPath(4, BRIDGE, 'forwarding')],
    ],
    [
      'forwarding, dual stack',
      { bridge: BRIDGE, addresses: '10.0.0.2/24,fd00:1::2/64', forwarding: 'true' },
      [PROMOTE, sysctlPath(4, BRIDGE, 'forwarding'), sysctlPath(6, BRIDGE, 'forwarding')],
    ],
  ]
  for (const [name, args, paths] of cases) {
    test(name, () => {
      const wanted = desiredSysctls(request(args))
      assert.deepEqual(
        wanted.map(w => w.path),
        paths,
      )
      assert.ok(wanted.every(w => w.value === '1'))
    })
  }

  test('paths are per bridge under /proc/sys/net', () => {
    assert.equal(sysctlPath(4, 'xapi7', 'proxy_arp'), '/proc/sys/net/ipv4/conf/xapi7/proxy_arp')
    assert.equal(sysctlPath(6, 'xapi7', 'forwarding'), '/proc/sys/net/ipv6/conf/xapi7/forwarding')
  })
})

describe('planRelease: mirrors on more than one management bridge', () => {
  test('every recorded mirror is given back, also on a bridge release does not observe', () => {
    const kernel = dom0().addLink('xenbr1', { addresses: ['10.0.0.3/32'] })
    const { final } = applyOn(
      kernel,
      { bridge: BRIDGE, addresses: '10.0.0.2/24', 'management-address': '10.0.0.2', 'management-bridge': MGMT },
      emptyRecord(BRIDGE),
    )
    // As a record holds it after an apply that moved the mirror failed its gateway check.
    const record: BridgeRecord = { ...final, mirrors: [{ dev: 'xenbr1', cidr: '10.0.0.3/32' }, ...final.mirrors] }
    const steps = releaseOn(kernel, record)
    assert.deepEqual(
      steps
        .filter(s => s.action === 'remove-address' && s.dev !== BRIDGE)
        .map(s => ('dev' in s ? s.dev : ''))
        .sort(),
      ['xenbr0', 'xenbr1'],
    )
    assert.deepEqual(kernel.observe(BRIDGE, 'xenbr1').management?.addr_info, [])
    assert.deepEqual(
      kernel.observe(BRIDGE, MGMT).management?.addr_info?.map(a => `${a.local}/${a.prefixlen}`),
      ['192.168.1.10/24'],
    )
  })
})

describe('planApply: an IPv6 address changing its prefix', () => {
  test('ours under the old prefix goes just before it comes back under the new one', () => {
    const kernel = dom0()
    const first = applyOn(kernel, { bridge: BRIDGE, addresses: 'fd00:1::2/64' }, emptyRecord(BRIDGE))
    const plan = applyOn(kernel, { bridge: BRIDGE, addresses: 'fd00:1::2/56' }, first.final, LATER)
    assert.deepEqual(
      plan.make
        .filter(s => s.action === 'remove-address' || s.action === 'add-address')
        .map(s => [s.action, 'cidr' in s ? s.cidr : '']),
      [
        ['remove-address', 'fd00:1::2/64'],
        ['add-address', 'fd00:1::2/56'],
      ],
    )
    assert.ok(!plan.break.some(s => s.action === 'remove-address'), 'not removed twice')
    assert.deepEqual(plan.final.addresses, ['fd00:1::2/56'])
  })
})

describe('planApply: two bridges with a gateway of the same family', () => {
  test('the second inherits the route the first displaced, so releasing both gives it back', () => {
    const kernel = dom0().addLink('xapi2')
    const first = applyOn(
      kernel,
      { bridge: BRIDGE, addresses: '10.0.0.2/24', gateway: '10.0.0.1' },
      emptyRecord(BRIDGE),
    )
    const req = request({ bridge: 'xapi2', addresses: '10.1.0.2/24', gateway: '10.1.0.1' })
    const second = planApply(req, kernel.observe('xapi2'), emptyRecord('xapi2'), NOW, [first.final])
    kernel.run([...second.make, ...second.break])
    assert.deepEqual(second.final.defaultRoutes[0]!.previous, V4_PREVIOUS, "not xapi1's own route")

    releaseOn(kernel, first.final) // xapi1 goes first: the route in place is xapi2's, left alone
    kernel.removeLink(BRIDGE)
    releaseOn(kernel, second.final)
    assert.deepEqual(kernel.observe('xapi2').defaults[4], [V4_PREVIOUS])
  })
})
