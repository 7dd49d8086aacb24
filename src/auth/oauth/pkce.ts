import { createHash, randomBytes } from 'node:crypto'

/** RFC 7636 S256: verifier = 32 random bytes base64url, challenge = base64url(sha256(verifier)). */
export function createPkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  return { verifier, challenge }
}
