import { defineConfig } from 'vitepress'

export default defineConfig({
  title: 'dcache',
  description:
    "Cache a function's results with one line, like functools.lru_cache, in memory, Redis, S3 or any backend, or a chain of them.",
  base: '/',
  cleanUrls: true,
  lastUpdated: false,
  themeConfig: {
    nav: [
      { text: 'Guide', link: '/guide/getting-started' },
      { text: 'Backends', link: '/backends/' },
      { text: 'Errors', link: '/reference/errors' },
      { text: 'Benchmarks', link: '/benchmarks' },
    ],
    sidebar: [
      {
        text: 'Guide',
        items: [
          { text: 'Getting started', link: '/guide/getting-started' },
          { text: 'Wrapping functions', link: '/guide/wrapping-functions' },
          { text: 'Keys', link: '/guide/keys' },
          { text: 'Tiers', link: '/guide/tiers' },
          { text: 'Values', link: '/guide/values' },
          { text: 'Failure behaviour', link: '/guide/failure-behaviour' },
          { text: 'Several processes', link: '/guide/distributed' },
        ],
      },
      {
        text: 'Backends',
        items: [
          { text: 'Overview', link: '/backends/' },
          { text: 'In memory', link: '/backends/memory' },
          { text: 'Redis', link: '/backends/redis' },
          { text: 'SQLite', link: '/backends/sqlite' },
          { text: 'File system', link: '/backends/fs' },
          { text: 'Writing a backend', link: '/guide/writing-a-backend' },
        ],
      },
      {
        text: 'Reference',
        items: [
          { text: 'Error codes', link: '/reference/errors' },
          { text: 'Benchmarks', link: '/benchmarks' },
        ],
      },
    ],
    search: { provider: 'local' },
  },
})
