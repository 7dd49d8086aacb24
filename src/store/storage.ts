import { createStorage, type Storage } from 'unstorage'
import { privateFsDriver } from './fs-driver.ts'

/** The one storage instance of a process: files under QWEN_HOME. */
export function createFileStorage(home: string): Storage {
  return createStorage({ driver: privateFsDriver({ base: home }) })
}
