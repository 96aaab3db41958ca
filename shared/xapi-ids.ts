// How xapi names objects: by UUID for people and the CLI, by opaque ref on the wire, with
// one ref that means "no object".

export const NULL_REF = 'OpaqueRef:NULL'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function isUuid(text: string): boolean {
  return UUID.test(text)
}
