import { dcacheProject } from '../../vitest.project.ts'

export default dcacheProject('core', {
  typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
})
