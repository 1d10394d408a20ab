import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['@dcache/source'] },
  ssr: { resolve: { conditions: ['@dcache/source'] } },
  test: {
    name: 'example-quickstart',
    include: ['test/**/*.test.ts'],
  },
})
