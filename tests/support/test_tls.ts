/**
 * A certificate authority and a server certificate for TLS tests on loopback:
 * the server certificate names 127.0.0.1, 127.0.0.2 and localhost, and both
 * are valid until 2126. The keys are test keys, published on purpose; trust
 * the authority only in test processes (`DENO_CERT`, or `caCerts`).
 *
 * @module
 */

/** The test certificate authority (PEM). */
export const TEST_CA_CERT = `
-----BEGIN CERTIFICATE-----
MIIBojCCAUegAwIBAgIULu1Rzb7Vy30CBieKo9TIE1gVJDgwCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSZGV2aWNlZmxvdyB0ZXN0IENBMCAXDTI2MTEyMjAyMzg1OVoY
DzIxMjYxMDI5MDIzODU5WjAdMRswGQYDVQQDDBJkZXZpY2VmbG93IHRlc3QgQ0Ew
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAS1G5JZEaRKAHOxZXjhYgrvz2S/G1mK
WadBFV3fZZfYU2r3uh0+da7DL7yi3PyZY13Pc1hKJZJTAMFihI3W0zJ3o2MwYTAd
BgNVHQ4EFgQU6GyF9Ym2fUT01iNZqB0Wgrpmbh8wHwYDVR0jBBgwFoAU6GyF9Ym2
fUT01iNZqB0Wgrpmbh8wDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYw
CgYIKoZIzj0EAwIDSQAwRgIhAJKgCDtTkMHVB5uuhTDxkj+iZqcgxapROhKDJHzT
UVZoAiEAmwo1SPeqiyJRNgZhe7PRRYFjYfoM/ZxmjMmsadgq1w0=
-----END CERTIFICATE-----
`;

/** The server certificate, signed by {@linkcode TEST_CA_CERT} (PEM). */
export const TEST_SERVER_CERT = `
-----BEGIN CERTIFICATE-----
MIIBzjCCAXSgAwIBAgIUR6Ac47q3ZRdsYIS75CLE+mWGeSQwCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSZGV2aWNlZmxvdyB0ZXN0IENBMCAXDTI2MTEyMjAyMzkwMFoY
DzIxMjYxMDI5MDIzOTAwWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjO
PQIBBggqhkjOPQMBBwNCAAQMZW7xrngE0MX3BiRbUTIjG6W9RG0n9cmyuAKTunqH
oA0ZoxIk7J3PzQSujPWtKGdhjjG6jZftiyjwwa+2RZJ9o4GYMIGVMAwGA1UdEwEB
/wQCMAAwDgYDVR0PAQH/BAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMCAGA1Ud
EQQZMBeHBH8AAAGHBH8AAAKCCWxvY2FsaG9zdDAdBgNVHQ4EFgQU1czzvtEfHBWt
EXJd5XBTIXw1qnkwHwYDVR0jBBgwFoAU6GyF9Ym2fUT01iNZqB0Wgrpmbh8wCgYI
KoZIzj0EAwIDSAAwRQIgWPkFSq+4+bkHHnqJfFGyWkPSGXZ4zpYe632OpYSFkXAC
IQD/LloS0kGQHntLvfstVnWQ2zaR1UyVj6LAWbuIwrDMlw==
-----END CERTIFICATE-----
`;

/** The server certificate's private key (PKCS #8 PEM). */
export const TEST_SERVER_KEY = `
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQggRgqjEzpY+rrUebU
4eFNHKSy6+GFxtc16b27/DkTtiahRANCAAQMZW7xrngE0MX3BiRbUTIjG6W9RG0n
9cmyuAKTunqHoA0ZoxIk7J3PzQSujPWtKGdhjjG6jZftiyjwwa+2RZJ9
-----END PRIVATE KEY-----
`;

/**
 * Writes the authority to a file, for `DENO_CERT` in a child process.
 *
 * @param dir The directory to write it in.
 * @returns The file's path.
 */
export async function writeTestCa(dir: string): Promise<string> {
  const path = `${dir}/test-ca.pem`;
  await Deno.writeTextFile(path, TEST_CA_CERT.trimStart());
  return path;
}
