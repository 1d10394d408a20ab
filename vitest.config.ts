import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: { conditions: ['@dcache/source'] },
  ssr: { resolve: { conditions: ['@dcache/source'] } },
  test: {
    projects: ['packages/*/vitest.config.ts', 'examples/*/vitest.config.ts'],
  },
})
