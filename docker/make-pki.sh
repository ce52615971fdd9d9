#!/bin/sh
# Makes the key material for Artery over TLS with mutual authentication (docs/security.md), with the JDK's
# keytool and the commands docs/security.md gives: a CA, a trust store holding only the CA's certificate, and one
# key store per node name with a certificate the CA signed (serverAuth and clientAuth: every node accepts and
# opens connections). What already exists is kept, so running it again adds only missing nodes.
#
#     make-pki.sh OUT_DIR [NAME[=SAN] ...]        (default names: coordinator worker)
#
# OUT_DIR receives truststore.p12 and NAME.p12 for each NAME; the nodes mount it read-only. SAN is keytool's
# SubjectAlternativeName list, e.g. worker-3=dns:worker-3.example.org,ip:10.0.0.13 [dns:NAME]. Workers scaled
# on demand may share one key store (hostname verification is off by default: the CA's signature is the check).
# The CA itself (ca.p12, ca.crt) goes to GAPRUNE_PKI_CA_DIR, which no node needs: keep it off the nodes.
#
# Environment (passwords only ever through the environment, never on a command line):
#   GAPRUNE_TLS_PASSWORD     password of every store written to OUT_DIR (required); the nodes get it as
#                            GAPRUNE_TLS_KEYSTORE_PASSWORD and GAPRUNE_TLS_TRUSTSTORE_PASSWORD
#   GAPRUNE_PKI_CA_PASSWORD  password of the CA's store [GAPRUNE_TLS_PASSWORD]
#   GAPRUNE_PKI_CA_DIR       where the CA is kept or made [OUT_DIR/ca]
#   GAPRUNE_PKI_DAYS         validity of node certificates in days [825]
#   KEYTOOL                  the keytool to run [keytool, else $JAVA_HOME/bin/keytool]
set -eu

die() {
  printf 'make-pki: %s\n' "$*" >&2
  exit 2
}

[ $# -ge 1 ] || die "usage: make-pki.sh OUT_DIR [NAME[=SAN] ...]"
out=$1
shift
[ $# -gt 0 ] || set -- coordinator worker
[ -n "${GAPRUNE_TLS_PASSWORD:-}" ] || die "GAPRUNE_TLS_PASSWORD is not set (the stores' password, at least 6 characters)"
[ "${#GAPRUNE_TLS_PASSWORD}" -ge 6 ] || die "GAPRUNE_TLS_PASSWORD must have at least 6 characters (keytool's minimum)"
STORE_PW=$GAPRUNE_TLS_PASSWORD
CA_PW=${GAPRUNE_PKI_CA_PASSWORD:-$GAPRUNE_TLS_PASSWORD}
export STORE_PW CA_PW
ca_dir=${GAPRUNE_PKI_CA_DIR:-$out/ca}
days=${GAPRUNE_PKI_DAYS:-825}
case "$days" in '' | *[!0-9]*) die "GAPRUNE_PKI_DAYS must be a number of days, not \"$days\"" ;; esac
keytool=${KEYTOOL:-}
if [ -z "$keytool" ]; then
  if command -v keytool >/dev/null 2>&1; then keytool=keytool
  elif [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/keytool" ]; then keytool=$JAVA_HOME/bin/keytool
  else die "no keytool on PATH (set KEYTOOL or JAVA_HOME)"
  fi
fi

umask 077
mkdir -p "$out" "$ca_dir"
kt() { "$keytool" "$@" >/dev/null 2>&1 || { "$keytool" "$@" >&2; die "keytool $1 failed"; }; }

# 1. The CA (kept in ca_dir).
if [ ! -f "$ca_dir/ca.p12" ]; then
  kt -genkeypair -alias ca -keyalg EC -groupname secp256r1 -dname "CN=gaprune CA" \
    -ext bc:c=ca:true -ext KeyUsage:c=keyCertSign,cRLSign -validity 3650 \
    -keystore "$ca_dir/ca.p12" -storetype PKCS12 -storepass:env CA_PW
  echo "make-pki: made the CA in $ca_dir/ca.p12" >&2
fi
if [ ! -f "$ca_dir/ca.crt" ]; then
  kt -exportcert -rfc -alias ca -keystore "$ca_dir/ca.p12" -storepass:env CA_PW -file "$ca_dir/ca.crt"
fi

# 2. The trust store every node uses: the CA's certificate only (whatever it trusts may join).
if [ ! -f "$out/truststore.p12" ]; then
  kt -importcert -noprompt -alias ca -file "$ca_dir/ca.crt" -keystore "$out/truststore.p12" -storetype PKCS12 \
    -storepass:env STORE_PW
  echo "make-pki: made $out/truststore.p12" >&2
fi

# 3. One key store per node name.
for spec in "$@"; do
  name=${spec%%=*}
  san=dns:$name
  case "$spec" in *=*) san=${spec#*=} ;; esac
  case "$name" in '' | *[!A-Za-z0-9._-]*) die "a node name may hold only A-Z a-z 0-9 . _ -, not \"$name\"" ;; esac
  ks=$out/$name.p12
  if [ -f "$ks" ]; then
    continue
  fi
  tmp=$out/.$name.tmp.p12
  rm -f "$tmp" "$out/$name.csr" "$out/$name.crt"
  kt -genkeypair -alias node -keyalg EC -groupname secp256r1 -dname "CN=$name" \
    -keystore "$tmp" -storetype PKCS12 -storepass:env STORE_PW
  kt -certreq -alias node -keystore "$tmp" -storepass:env STORE_PW -file "$out/$name.csr"
  kt -gencert -rfc -alias ca -keystore "$ca_dir/ca.p12" -storepass:env CA_PW -infile "$out/$name.csr" \
    -outfile "$out/$name.crt" -validity "$days" -ext KeyUsage:c=digitalSignature \
    -ext ExtendedKeyUsage=serverAuth,clientAuth -ext "SubjectAlternativeName=$san"
  # keytool chains the signed certificate to a CA it already holds: import the CA first, then the reply.
  kt -importcert -noprompt -alias ca -file "$ca_dir/ca.crt" -keystore "$tmp" -storepass:env STORE_PW
  kt -importcert -alias node -file "$out/$name.crt" -keystore "$tmp" -storepass:env STORE_PW
  rm -f "$out/$name.csr" "$out/$name.crt"
  mv "$tmp" "$ks"
  echo "make-pki: made $ks ($san)" >&2
done
