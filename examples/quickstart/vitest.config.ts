import { dcacheProject } from '../../vitest.project.ts'

export default dcacheProject('example-quickstart')
