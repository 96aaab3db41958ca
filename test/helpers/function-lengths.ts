// Every function in a source tree with its length in lines, read with TypeScript's own
// parser (a regular expression cannot tell where a function ends).

import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'

export interface FunctionLength {
  where: string
  name: string
  lines: number
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : []
  })
}

function nameOf(node: ts.Node, file: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node }
  if (named.name) return named.name.getText(file)
  const parent = node.parent
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText(file)
  return '(anonymous)'
}

export function functionLengths(repo: string, dirs: string[]): FunctionLength[] {
  const found: FunctionLength[] = []
  for (const path of dirs.flatMap(d => sourceFiles(join(repo, d)))) {
    const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true)
    const visit = (node: ts.Node) => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line
        const end = file.getLineAndCharacterOfPosition(node.getEnd()).line
        found.push({ where: `${relative(repo, path)}:${start + 1}`, name: nameOf(node, file), lines: end - start + 1 })
      }
      ts.forEachChild(node, visit)
    }
    visit(file)
  }
  return found
}
