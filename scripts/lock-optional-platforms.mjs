// Records platform-specific optional packages (deno's, bun's, native addons') that are missing
// from package-lock.json. The registry this project installs from serves only some platforms'
// builds, so `npm install` leaves the others out of the lock, and `npm ci` then refuses the lock
// as out of sync. Each added entry carries the os/cpu/libc its name declares, so npm never
// fetches one on a platform it does not fit. Run it after `npm install` changes dependencies.
import { readFileSync, writeFileSync } from 'node:fs'

const OS = { darwin: 'darwin', linux: 'linux', win32: 'win32', windows: 'win32', freebsd: 'freebsd', android: 'android' }
const CPU = { x64: 'x64', amd64: 'x64', arm64: 'arm64', aarch64: 'arm64', ia32: 'ia32', arm: 'arm' }

function platformOf(name) {
  const parts = name.split('/').pop().split(/[-_]/)
  const os = parts.map((p) => OS[p]).find(Boolean)
  const cpu = parts.map((p) => CPU[p]).find(Boolean)
  if (!os || !cpu) return undefined
  const libc = parts.includes('musl') ? ['musl'] : os === 'linux' && (parts.includes('gnu') || parts.includes('glibc')) ? ['glibc'] : undefined
  return { os: [os], cpu: [cpu], ...(libc ? { libc } : {}) }
}

const lockPath = new URL('../package-lock.json', import.meta.url)
const lock = JSON.parse(readFileSync(lockPath, 'utf8'))
const added = []
for (const [path, pkg] of Object.entries(lock.packages)) {
  for (const [name, range] of Object.entries(pkg.optionalDependencies ?? {})) {
    const nested = `${path ? `${path}/` : ''}node_modules/${name}`
    if (lock.packages[nested] || lock.packages[`node_modules/${name}`]) continue
    const platform = platformOf(name)
    if (!platform) throw new Error(`cannot tell the platform of ${name} (optional dependency of ${path})`)
    const version = String(range).replace(/^[\^~=]/, '')
    const tarball = `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${version}.tgz`
    lock.packages[`node_modules/${name}`] = { version, resolved: tarball, ...platform, dev: Boolean(pkg.dev), optional: true }
    added.push(name)
  }
}
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`)
console.error(added.length ? `recorded ${added.length} platform packages: ${added.join(', ')}` : 'nothing to record')
