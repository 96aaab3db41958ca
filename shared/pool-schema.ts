// The JSON Schema (draft-07) of the pool document, as `vif-ip-binder schema` prints it and
// the README documents it. decodePoolConfig is the enforcement (it parses every value with
// the host plugin's own parsers); this schema describes the same shape for people and
// editors, and a test checks the two accept and refuse the same examples.

import { MAX_GATEWAY_CHECK_SECONDS, DEFAULT_GATEWAY_CHECK_SECONDS } from './plugin-args.ts'
import { POOL_CONFIG_KEY, POOL_CONFIG_VERSION } from './binding.ts'

const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
const text = (description: string) => ({ type: 'string', minLength: 1, pattern: '^[^,]*$', description })
const list = (description: string) => ({ type: 'array', items: text(description), description })

export const poolDocumentSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: `pool.other_config["${POOL_CONFIG_KEY}"]`,
  description:
    'The bindings of one pool, written by the Xen Orchestra plugin or by `vif-ip-binder configure` on any host, read by every host of the pool. As input to `configure`, vm and network may also be an exact name label and version/writtenBy may be left out.',
  type: 'object',
  required: ['version', 'bindings'],
  additionalProperties: false,
  properties: {
    version: {
      const: POOL_CONFIG_VERSION,
      description: 'Format version; readers refuse a version they do not know and then change nothing.',
    },
    writtenBy: {
      type: 'object',
      description: 'Who wrote this document and when (informative).',
      required: ['by', 'at'],
      additionalProperties: false,
      properties: {
        by: { enum: ['xo', 'host'] },
        host: { type: 'string', pattern: UUID_PATTERN, description: 'UUID of the host whose `configure` wrote it.' },
        at: { type: 'string', format: 'date-time' },
      },
    },
    gatewayCheckSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: MAX_GATEWAY_CHECK_SECONDS,
      default: DEFAULT_GATEWAY_CHECK_SECONDS,
      description: 'How long a new default gateway has to answer a ping before the previous route is restored.',
    },
    rescue: {
      type: 'boolean',
      default: false,
      description: 'A host that booted disabled enables itself and starts the bound VMs first.',
    },
    bindings: {
      type: 'array',
      description:
        'One item per (firewall VM, private network). An empty list releases everything on the next reconcile.',
      items: {
        type: 'object',
        required: ['vm', 'network', 'addresses'],
        additionalProperties: false,
        properties: {
          vm: { type: 'string', pattern: UUID_PATTERN, description: 'UUID of the firewall VM.' },
          network: {
            type: 'string',
            pattern: UUID_PATTERN,
            description: 'UUID of the private network dom0 shares with it.',
          },
          addresses: { ...list('An address with its prefix, e.g. 192.0.2.2/24 or 2001:db8::2/64.'), minItems: 1 },
          gateways: { ...list('Default gateway, at most one per family, inside a bound prefix.'), default: [] },
          routes: { ...list('`dest` (on-link through the bridge) or `dest=via`.'), default: [] },
          managementAddress: {
            type: 'string',
            description: 'One of the addresses, mirrored as /32 or /128 on the management bridge.',
          },
          proxyArp: { type: 'boolean', default: false },
          forwarding: { type: 'boolean', default: false },
          srs: {
            type: 'array',
            default: [],
            items: {
              type: 'object',
              required: ['sr'],
              additionalProperties: false,
              properties: {
                sr: {
                  type: 'string',
                  pattern: UUID_PATTERN,
                  description: 'UUID of a network SR to re-plug once its server answers.',
                },
                probe: {
                  type: 'string',
                  description: 'tcp:<host>:<port> or icmp:<host>; derived from the PBD when left out.',
                },
              },
            },
          },
        },
      },
    },
  },
} as const
