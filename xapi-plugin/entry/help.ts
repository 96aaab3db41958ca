// `help`, `help FUNCTION`, `FUNCTION --help` and the man page vif-ip-binder(8): all written
// from FUNCTION_SPECS, the list the argument parsers accept, so they cannot disagree.

import { type ArgumentSpec, FUNCTION_SPECS, type FunctionSpec } from '../../shared/function-spec.ts'
import { PLUGIN_NAME } from '../../shared/version.ts'

const XE = `xe host-call-plugin host-uuid=<host-uuid> plugin=${PLUGIN_NAME}`

function synopsis(spec: FunctionSpec): string {
  const words = spec.args.map(arg => (arg.required ? `${arg.name}=${arg.value}` : `[${arg.name}=${arg.value}]`))
  return [PLUGIN_NAME, spec.name, ...words].join(' ')
}

function argumentLine(arg: ArgumentSpec): string {
  const tags = [
    arg.required ? 'required' : undefined,
    arg.default !== undefined ? `default ${arg.default}` : undefined,
  ].filter(Boolean)
  return `  ${`${arg.name}=${arg.value}`.padEnd(28)} ${arg.doc}${tags.length ? ` (${tags.join(', ')})` : ''}`
}

/** The xe form of the example: configure's document goes as a file. */
function xeExample(spec: FunctionSpec): string {
  const args =
    spec.name === 'configure' ? ['args:bindings:file=bindings.json'] : spec.example.map(word => `args:${word}`)
  return [XE, `fn=${spec.name}`, ...args].join(' ')
}

function handExample(spec: FunctionSpec): string {
  return spec.name === 'configure'
    ? `${PLUGIN_NAME} configure --file bindings.json [dry-run=true]`
    : [PLUGIN_NAME, spec.name, ...spec.example].join(' ')
}

export function functionHelp(spec: FunctionSpec): string {
  const lines = [`${PLUGIN_NAME} ${spec.name}: ${spec.summary}`, '', `usage: ${synopsis(spec)}`, '']
  lines.push(spec.args.length ? 'arguments:' : 'arguments: none', ...spec.args.map(argumentLine))
  if (spec.notes) lines.push('', spec.notes)
  lines.push('', 'example:', `  ${handExample(spec)}`)
  lines.push(spec.viaXapi ? `  ${xeExample(spec)}` : '  (run on the host itself; not callable through xapi)')
  return lines.join('\n') + '\n'
}

export function overview(): string {
  const width = Math.max(...FUNCTION_SPECS.map(spec => spec.name.length)) + 2
  return (
    [
      `usage: ${PLUGIN_NAME} FUNCTION [key=value ...] [--json]`,
      `       ${PLUGIN_NAME} help [FUNCTION] | FUNCTION --help | --version`,
      `       ${PLUGIN_NAME} install|uninstall [--root DIR]`,
      '',
      'Keeps dom0 reachable when every NIC belongs to a firewall VM: binds dom0 addresses, the',
      "default route and a management mirror on the bridge of the firewall's private network.",
      'xapi calls it as a host plugin; the same functions run by hand:',
      '',
      ...FUNCTION_SPECS.map(spec => `  ${spec.name.padEnd(width)}${spec.summary}`),
      '',
      'On a terminal results print as a summary; --json prints the JSON. Errors go to stderr',
      'with a VIF_IP_BINDER_* code and a non-zero exit status. Lists are comma-separated.',
      `Locked out? /usr/share/doc/${PLUGIN_NAME}/RECOVERY.md (the README's "Locked out?"), or man ${PLUGIN_NAME}.`,
    ].join('\n') + '\n'
  )
}

/** Text for groff: a leading dot or quote would be read as a request, a backslash as an escape. */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1')
    .replace(/[^ -~\n]/g, char => `\\[u${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`)
}

export function manPage(version: string, date: string): string {
  const out = [
    `.TH ${PLUGIN_NAME.toUpperCase()} 8 "${date}" "${PLUGIN_NAME} ${version}" "System Administration"`,
    '.SH NAME',
    `${roff(PLUGIN_NAME)} \\- keep dom0 reachable through a firewall VM on XCP\\-ng`,
    '.SH SYNOPSIS',
    `.B ${roff(PLUGIN_NAME)}`,
    '.I FUNCTION',
    '[\\fIkey\\fR=\\fIvalue\\fR ...] [\\fB\\-\\-json\\fR]',
    '.SH DESCRIPTION',
    roff(overview().split('\n').slice(4, 7).join(' ')),
    '.SH FUNCTIONS',
  ]
  for (const spec of FUNCTION_SPECS) {
    out.push(
      '.SS ' + roff(spec.name),
      roff(spec.summary),
      '.PP',
      '.nf',
      roff(functionHelp(spec).split('\n').slice(2).join('\n').trimEnd()),
      '.fi',
    )
  }
  out.push(
    '.SH OPTIONS',
    '.TP\n.B \\-\\-json\nprint the result as JSON (what xapi returns) instead of a summary',
    '.TP\n.B \\-\\-help\nwith a function: its arguments, defaults and examples',
    '.TP\n.B \\-\\-version\nthe version, and which parts are installed',
    '.SH FILES',
    '.TP\n/etc/xapi.d/plugins/vif\\-ip\\-binder\nthe xapi plugin',
    ".TP\n/etc/xapi.d/vif\\-hotplug\nxapi's VIF hook",
    '.TP\n/var/lib/vif\\-ip\\-binder\nwhat the plugin owns per bridge, and the pause',
    ".TP\n/var/log/vif\\-ip\\-binder.log\nthe hook's log when dom0 has no syslog; else \\fBjournalctl \\-t vif\\-ip\\-binder\\fR",
    '.SH "LOCKED OUT?"',
    `See /usr/share/doc/${roff(PLUGIN_NAME)}/RECOVERY.md.`,
  )
  return out.join('\n') + '\n'
}
