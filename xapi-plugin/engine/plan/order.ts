// The order in which things are given back.

import type { Step } from '../../../shared/results.ts'

/**
 * Management mirrors go first: when the last IPv4 address leaves a device the kernel
 * flushes every route through it, so removing the mirror after restoring a default route
 * through the management bridge would take that route away again. Then the default routes
 * (the way out matters most), then routes, then the bridge's addresses (routes via a
 * gateway need them), then sysctls.
 */
export function orderRemovals(steps: Step[], bridge: string): Step[] {
  const rank = (step: Step): number => {
    switch (step.action) {
      case 'remove-address':
        return step.dev === bridge ? 3 : 0
      case 'switch-default-route':
      case 'remove-default-route':
        return 1
      case 'remove-route':
        return 2
      default:
        return 4
    }
  }
  return steps
    .map((step, i) => ({ step, i }))
    .sort((a, b) => rank(a.step) - rank(b.step) || a.i - b.i)
    .map(({ step }) => step)
}
