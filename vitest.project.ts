// The vitest project every package of this repository uses: tests run against `src/` through the
// `@dcache/source` export condition, so no build is needed between an edit and a test run.
import { defineProject, type TestProjectInlineConfiguration } from 'vitest/config'

/** A package's vitest project named `name`, its tests in `test/**\/*.test.ts`, with `test` overrides. */
export function dcacheProject(name: string, test: NonNullable<TestProjectInlineConfiguration['test']> = {}) {
  return defineProject({
    resolve: { conditions: ['@dcache/source'] },
    ssr: { resolve: { conditions: ['@dcache/source'] } },
    test: { name, include: ['test/**/*.test.ts'], ...test },
  })
}
