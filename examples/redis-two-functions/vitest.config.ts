import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['@dcache/source'] },
  ssr: { resolve: { conditions: ['@dcache/source'] } },
  test: {
    name: 'example-redis-two-functions',
    include: ['test/**/*.test.ts'],
  },
})
