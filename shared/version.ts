import pkg from '../package.json' with { type: 'json' }

export const PLUGIN_NAME = 'vif-ip-binder'
export const PLUGIN_VERSION: string = pkg.version
/** Bumped when a function's arguments or result change incompatibly; XO checks it. */
export const PROTOCOL_VERSION = 1
