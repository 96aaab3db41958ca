import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HostPluginClient, checkHostPlugin, describeError, isTransient } from '../../xo-plugin/host-plugin.ts'
import type { XapiConnection } from '../../xo-plugin/xapi-types.ts'

const xapiError = (code: string, ...params: string[]) => Object.assign(new Error(code), { code, params })

function answering(value: unknown): XapiConnection {
  return { call: async () => value } as unknown as XapiConnection
}

describe('host plugin errors', () => {
  it('retries what a later attempt can cure, and only that', () => {
    for (const code of [
      'VIF_IP_BINDER_BUSY',
      'VIF_IP_BINDER_GATEWAY_UNREACHABLE',
      'VIF_IP_BINDER_NO_SUCH_DEVICE',
      'SESSION_INVALID',
      'HOST_OFFLINE',
      'ECONNRESET',
    ]) {
      assert.equal(isTransient(xapiError(code)), true, code)
    }
    assert.equal(isTransient(new Error('socket hang up')), true)
    for (const code of [
      'VIF_IP_BINDER_INVALID_ARGUMENT',
      'VIF_IP_BINDER_CONFLICT',
      'XENAPI_MISSING_PLUGIN',
      'UNKNOWN_XENAPI_PLUGIN_FUNCTION',
      'HANDLE_INVALID',
      'EVENTS_LOST',
    ]) {
      assert.equal(isTransient(xapiError(code)), false, code)
    }
  })

  it('describes errors with the host plugin message', () => {
    assert.equal(
      describeError(xapiError('VIF_IP_BINDER_INVALID_ARGUMENT', 'addresses: "x" is bad', 'x')),
      'VIF_IP_BINDER_INVALID_ARGUMENT: addresses: "x" is bad',
    )
    assert.equal(
      describeError(xapiError('XENAPI_PLUGIN_FAILURE', 'non-zero exit', '', 'boom')),
      'XENAPI_PLUGIN_FAILURE: non-zero exit /  / boom',
    )
    assert.equal(describeError(new Error('plain')), 'plain')
  })
})

describe('checkHostPlugin', () => {
  it('accepts our protocol and reports the version', async () => {
    const check = await checkHostPlugin(
      new HostPluginClient(),
      answering(JSON.stringify({ name: 'vif-ip-binder', version: '1.2.3', protocol: 1 })),
      'OpaqueRef:h',
    )
    assert.deepEqual(check, { ok: true, version: { name: 'vif-ip-binder', version: '1.2.3', protocol: 1 } })
  })

  it('says what to do for a missing or incompatible plugin, and when the answer is not JSON', async () => {
    const missing = await checkHostPlugin(
      new HostPluginClient(),
      {
        call: async () => Promise.reject(xapiError('XENAPI_MISSING_PLUGIN', 'vif-ip-binder')),
      } as unknown as XapiConnection,
      'h',
    )
    assert.equal(missing.ok, false)
    assert.match(
      !missing.ok ? missing.message : '',
      /not installed: on that host, yum install vif-ip-binder-\d+\.\d+\.\d+-1\.x86_64\.rpm .*copy the vif-ip-binder executable to \/etc\/xapi\.d\/plugins\//,
    )
    const old = await checkHostPlugin(
      new HostPluginClient(),
      answering(JSON.stringify({ name: 'vif-ip-binder', version: '0.0.1', protocol: 0 })),
      'h',
    )
    assert.equal(!old.ok && old.reason, 'incompatible')
    const garbage = await checkHostPlugin(new HostPluginClient(), answering('<html>'), 'h')
    assert.equal(!garbage.ok && garbage.reason, 'unreachable')
    assert.match(!garbage.ok ? garbage.message : '', /not JSON: <html>/)
  })
})
