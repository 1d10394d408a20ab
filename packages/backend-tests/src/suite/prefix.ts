import type { BackendSuite, CheckContext } from '../check.js'
import { expectMiss, expectValue, text } from './bytes.js'

const needsPrefixFactory = ({ createWithPrefix }: CheckContext) =>
  createWithPrefix ? undefined : 'no createWithPrefix option was given'

async function openPair(context: CheckContext) {
  const createWithPrefix = context.createWithPrefix
  if (!createWithPrefix) throw new Error('unreachable: checked by unlessSupported')
  const left = await context.open(() => createWithPrefix(context.key('left:')))
  const right = await context.open(() => createWithPrefix(context.key('right:')))
  return { left, right }
}

/** Two instances with different prefixes on one store behave as two stores. */
export const prefixSuite: BackendSuite = {
  name: 'prefix',
  checks: [
    {
      name: "instances with different prefixes do not see each other's keys",
      unlessSupported: needsPrefixFactory,
      run: async (context) => {
        const { left, right } = await openPair(context)
        const k = context.key('shared-name')
        await left.set({ key: k, value: text('left'), expiresAt: null })
        expectMiss(await right.get(k), 'the other prefix must not see the key')
        await right.set({ key: k, value: text('right'), expiresAt: null })
        expectValue(await left.get(k), text('left'))
        expectValue(await right.get(k), text('right'))
        await right.delete(k)
        expectValue(await left.get(k), text('left'))
      },
    },
    {
      name: "clear() of one prefixed instance leaves the other's keys",
      unlessSupported: (context) =>
        needsPrefixFactory(context) ?? (context.backend.clear ? undefined : 'the backend has no clear (optional)'),
      run: async (context) => {
        const { left, right } = await openPair(context)
        const k = context.key('shared-name')
        await left.set({ key: k, value: text('left'), expiresAt: null })
        await right.set({ key: k, value: text('right'), expiresAt: null })
        await left.clear?.()
        expectMiss(await left.get(k))
        expectValue(await right.get(k), text('right'))
      },
    },
  ],
}
