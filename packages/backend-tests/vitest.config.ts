import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['@dcache/source'] },
  ssr: { resolve: { conditions: ['@dcache/source'] } },
  test: {
    testTimeout: 20_000,
    name: 'backend-tests',
    include: ['test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
})
