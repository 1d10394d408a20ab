import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['@dcache/source'] },
  ssr: { resolve: { conditions: ['@dcache/source'] } },
  test: {
    name: 'fs',
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
