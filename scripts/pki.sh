#!/usr/bin/env bash
# scripts/pki.sh - bootstrap the govcloud PKI with the openssl command only.
#
# One CA (EC P-256), TLS certificates for the orchestrator and every client
# identity (role in OU, identity in CN), SM2 signing keys for every party, a
# manifest (pki.json) and a README.txt.  Idempotent: what exists is reused.
# Run with --help for the options and the layout.
set -euo pipefail
umask 077

PROG=${0##*/}

# ---------------------------------------------------------------- options --

OUT=./pki
DAYS=825
CA_DAYS=3650
FORCE=0
UNITS=()
HOSTS=()
OPERATORS=()
SERVER_NAMES=()
SERVER_NAMES_GIVEN=0

# Fixed identities (role, CN).
ORCH_CN=gc-orchestrator
APPROVAL_CN=approval-oa
PROVIDER_CN=provider-ops
AUTHORITY_CN=authority

usage() {
	cat <<EOF
Usage: $PROG [OPTION]...

Create (or complete) the govcloud PKI: a CA, TLS 1.3 certificates for the
orchestrator and for every client identity, and SM2 signing keys for every
party.  Uses only the openssl command and coreutils.

Options:
  --out DIR             output directory (default ./pki; created mode 0700)
  --days N              validity of leaf certificates in days (default 825)
  --ca-days N           validity of a newly created CA in days (default 3650)
  --unit NAME           a tenant unit; repeatable (default: 市xx局)
  --host NAME           a host agent; repeatable (default: host-a host-b)
  --operator NAME       an operator, by real name; repeatable (default: 张三)
  --server-name NAME    DNS name or IP address of the orchestrator, put in the
                        server certificate's subjectAltName; repeatable
                        (default: localhost 127.0.0.1).  An existing server
                        certificate is kept; a warning says when its names
                        differ from those given
  --force               regenerate everything: a new CA, new keys and new
                        certificates for every identity recorded in DIR
                        (names.tsv) plus those requested
  -h, --help            show this help

Giving --unit, --host, --operator or --server-name replaces that option's
default list; the default units, hosts and operators are only added while DIR
holds none of that role.  Identities are never removed: a later run with
--host host-c adds host-c and keeps every host issued before (names.tsv).

Idempotence: an existing CA is reused, never silently regenerated (a CA key
without its certificate, or the reverse, is an error; use --force).  Existing
leaf certificates and keys are kept after checking that they match each other,
their expected subject and the CA.  A certificate or public key whose private
key has been moved away (handed to its party) is kept as it is.  A private key
without its certificate or public key gets them issued.

Identities (role / CN; OU = role):
  orchestrator  $ORCH_CN   TLS server cert (serverAuth, SAN) + service SM2 key
  approval      $APPROVAL_CN       TLS client cert + SM2 key (signs approvals)
  tenant        <unit name>       TLS client cert + SM2 key, one per unit
  provider      $PROVIDER_CN      TLS client cert + SM2 key
  authority     $AUTHORITY_CN         TLS client cert + SM2 key
  host          <host name>       TLS client cert + SM2 key (signs wipe certificates)
  operator      <real name>       TLS client cert (connects approved tunnels)

Layout of DIR:
  ca.crt ca.key                   CA (subject /O=govcloud/CN=govcloud CA)
  tls/orchestrator.crt|.key       orchestrator server certificate and key
  tls/<role>-<slug>.crt|.key      client certificates and keys
  sign/<role>-<slug>.key|.pub     SM2 private key (PKCS#8 PEM) and public key
  pki.json                        manifest of every file (see below)
  names.tsv                       role<TAB>slug<TAB>name, one identity a line
  README.txt                      this layout and the list of identities

The slug is the name itself when it matches [A-Za-z0-9][A-Za-z0-9._-]* (at
most 64 characters); otherwise (Chinese names, spaces, ...) it is "x" followed
by the hex of the first 6 bytes of the SHA-256 of the UTF-8 name, e.g. the
tenant 市xx局 lives in tls/tenant-x<12 hex>.crt.  names.tsv, pki.json and
README.txt record the mapping.

pki.json: {"version":1,"dir":..., "entries":[...]}; each entry has "role",
"name", "slug", "kind" (ca, tls-server, tls-client, sign) and paths relative to
DIR: "cert"/"key" for ca and tls-*, "key"/"pub" for sign ("key" is null when
the private key is not in DIR).  Certificates also carry "subject" (as printed
by openssl -nameopt utf8), "sha256" (fingerprint of the DER certificate,
lowercase hex), "serial" and "not_after"; the server certificate "san"; sign
entries "algorithm" ("SM2") and "pub_sha256" (SHA-256 of the DER public key).

SM2 signatures use the distinguishing id 1234567812345678 (GM/T 0009):
  openssl pkeyutl -sign -inkey sign/K.key -rawin -in MSG -digest sm3 \\
      -pkeyopt distid:1234567812345678 -out SIG

All files are created with umask 077; private keys are mode 0600.  Private
keys are never printed.
EOF
}

die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}

warn() {
	printf '%s: warning: %s\n' "$PROG" "$*" >&2
}

need_arg() {
	[[ $# -ge 2 && -n $2 ]] || die "option $1 needs a value (see --help)"
}

parse_args() {
	local opt val
	while [[ $# -gt 0 ]]; do
		opt=$1
		# Accept --opt=value as well as --opt value.
		if [[ $opt == --*=* ]]; then
			val=${opt#*=}
			opt=${opt%%=*}
			set -- "$opt" "$val" "${@:2}"
		fi
		case $opt in
		--out)         need_arg "$@"; OUT=$2; shift 2 ;;
		--days)        need_arg "$@"; DAYS=$2; shift 2 ;;
		--ca-days)     need_arg "$@"; CA_DAYS=$2; shift 2 ;;
		--unit)        need_arg "$@"; UNITS+=("$2"); shift 2 ;;
		--host)        need_arg "$@"; HOSTS+=("$2"); shift 2 ;;
		--operator)    need_arg "$@"; OPERATORS+=("$2"); shift 2 ;;
		--server-name) need_arg "$@"; SERVER_NAMES+=("$2"); SERVER_NAMES_GIVEN=1; shift 2 ;;
		--force)       FORCE=1; shift ;;
		-h | --help)   usage; exit 0 ;;
		*)             die "unknown argument '$1' (see --help)" ;;
		esac
	done

	[[ $DAYS =~ ^[1-9][0-9]{0,5}$ ]] || die "--days: '$DAYS' is not a positive number of days"
	[[ $CA_DAYS =~ ^[1-9][0-9]{0,5}$ ]] || die "--ca-days: '$CA_DAYS' is not a positive number of days"
	[[ ${#SERVER_NAMES[@]} -gt 0 ]] || SERVER_NAMES=(localhost 127.0.0.1)

	local n
	for n in ${UNITS[@]+"${UNITS[@]}"}; do check_name --unit "$n"; done
	for n in ${HOSTS[@]+"${HOSTS[@]}"}; do check_name --host "$n"; done
	for n in ${OPERATORS[@]+"${OPERATORS[@]}"}; do check_name --operator "$n"; done
	for n in "${SERVER_NAMES[@]}"; do check_server_name "$n"; done
}

# A name becomes a CN through openssl -subj (where / + = and \ are syntax), a
# line of names.tsv and a JSON string: refuse what cannot travel safely.
check_name() {
	local opt=$1 name=$2
	[[ -n $name ]] || die "$opt: empty name"
	local LC_ALL=C cntrl=$'[\x01-\x1f\x7f]'
	[[ ! $name =~ $cntrl ]] || die "$opt: name '$name' contains a control character"
	case $name in
	*/* | *\\* | *+* | *=*)
		die "$opt: name '$name' contains one of / \\ + = (not allowed in a subject name)" ;;
	' '* | *' ')
		die "$opt: name '$name' has leading or trailing spaces" ;;
	esac
	if command -v iconv >/dev/null 2>&1; then
		printf '%s' "$name" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1 ||
			die "$opt: name '$name' is not valid UTF-8"
	fi
	local chars
	chars=$(printf '%s' "$name" | LC_ALL=C.UTF-8 wc -m)
	[[ $chars -le 64 ]] || die "$opt: name '$name' is longer than 64 characters (X.509 CN limit)"
}

is_ip() {
	local a=$1 o
	if [[ $a =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]]; then
		for o in "${BASH_REMATCH[@]:1}"; do
			[[ $((10#$o)) -le 255 ]] || return 1
		done
		return 0
	fi
	[[ $a == *:* && $a =~ ^[0-9A-Fa-f:.]+$ ]]
}

check_server_name() {
	local n=$1
	is_ip "$n" && return 0
	[[ $n =~ ^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ && $n != *..* && ${#n} -le 253 ]] ||
		die "--server-name: '$n' is neither an IP address nor a DNS name"
}

# ------------------------------------------------------------ small tools --

WORK=
TMPFILES=()
LOCKDIR=

cleanup() {
	local f
	for f in "${TMPFILES[@]}"; do
		[[ -e $f ]] && rm -f -- "$f"
	done
	[[ -n $WORK && -d $WORK ]] && rm -rf -- "$WORK"
	[[ -n $LOCKDIR && -d $LOCKDIR ]] && rmdir -- "$LOCKDIR" 2>/dev/null
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# A temporary name next to the final file, so that mv is an atomic rename.
tmpname() {
	local f="$1.tmp.$$"
	TMPFILES+=("$f")
	printf '%s' "$f"
}

# Run openssl: its stdout passes through, its stderr is shown only when it
# fails (and then the script stops).
ossl() {
	if ! openssl "$@" 2>"$WORK/openssl.err"; then
		printf '%s: error: openssl %s failed:\n' "$PROG" "$1" >&2
		cat "$WORK/openssl.err" >&2
		exit 1
	fi
}

slug_of() {
	local name=$1 h
	if [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]]; then
		printf '%s' "$name"
	else
		h=$(printf '%s' "$name" | sha256sum)
		printf 'x%s' "${h:0:12}"
	fi
}

json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

json_path_or_null() {
	if [[ -n $1 ]]; then json_str "$1"; else printf 'null'; fi
}

random_serial() {
	local r
	r=$(ossl rand -hex 16)
	# Positive, never a leading zero byte: first hex digit in 1..7.
	printf '0x%x%s' $(((16#${r:0:1} % 7) + 1)) "${r:1}"
}

cert_pub() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null; }
key_pub() { openssl pkey -in "$1" -pubout 2>/dev/null; }
cert_subject() { openssl x509 -in "$1" -noout -subject -nameopt utf8 2>/dev/null | sed 's/^subject=//'; }

cert_sha256() {
	local fp
	fp=$(ossl x509 -in "$1" -noout -fingerprint -sha256)
	fp=${fp#*=}
	fp=${fp//:/}
	printf '%s' "${fp,,}"
}

gen_ec_key() {
	local out=$1 tmp
	tmp=$(tmpname "$out")
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-pkeyopt ec_param_enc:named_curve -out "$tmp"
	chmod 600 "$tmp"
	mv -f -- "$tmp" "$out"
}

gen_sm2_key() {
	local out=$1 tmp
	tmp=$(tmpname "$out")
	ossl genpkey -algorithm SM2 -out "$tmp"
	chmod 600 "$tmp"
	mv -f -- "$tmp" "$out"
}

write_pub() {
	local key=$1 pub=$2 tmp
	tmp=$(tmpname "$pub")
	ossl pkey -in "$key" -pubout -out "$tmp"
	mv -f -- "$tmp" "$pub"
}

# -------------------------------------------------------------- the CA ----

SUMMARY=()
N_CREATED=0
N_REUSED=0

note() { # status what detail
	SUMMARY+=("$(printf '  %-8s %-12s %s' "$1" "$2" "$3")")
	case $1 in
	created | issued) N_CREATED=$((N_CREATED + 1)) ;;
	*) N_REUSED=$((N_REUSED + 1)) ;;
	esac
}

write_openssl_config() {
	cat >"$WORK/req.cnf" <<'EOF'
# Minimal config: no dependence on the system openssl.cnf.
[req]
distinguished_name = req_dn
string_mask = utf8only
utf8 = yes
prompt = no

[req_dn]
CN = unused

[v3_ca]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
	cat >"$WORK/client.ext" <<'EOF'
[v3]
basicConstraints = CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
	# A host's agent also serves the operations tunnels it opens (TLS
	# server for gcctl tunnel connect), so its certificate has both uses.
	sed 's/^extendedKeyUsage = clientAuth$/extendedKeyUsage = clientAuth, serverAuth/' \
		"$WORK/client.ext" >"$WORK/host.ext"
	local san='' n
	for n in "${SERVER_NAMES[@]}"; do
		if is_ip "$n"; then san+="${san:+, }IP:$n"; else san+="${san:+, }DNS:$n"; fi
	done
	cat >"$WORK/server.ext" <<EOF
[v3]
basicConstraints = CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = $san
EOF
}

ensure_ca() {
	local crt="$OUT/ca.crt" key="$OUT/ca.key"
	if [[ -e $crt && -e $key ]]; then
		[[ $(cert_pub "$crt") == "$(key_pub "$key")" && -n $(cert_pub "$crt") ]] ||
			die "$crt and $key do not match (or cannot be read); fix them or use --force to regenerate the whole PKI"
		openssl verify -CAfile "$crt" "$crt" >/dev/null 2>&1 ||
			die "$crt is not a valid self-signed CA certificate (expired?); use --force to regenerate the whole PKI"
		note reused ca "ca.crt ($(cert_subject "$crt"), sha256 $(cert_sha256 "$crt" | cut -c1-16)...)"
		return 0
	fi
	[[ -e $crt ]] && die "$crt exists but $key is missing; restore it or use --force to regenerate the whole PKI"
	[[ -e $key ]] && die "$key exists but $crt is missing; restore it or use --force to regenerate the whole PKI"
	# A new CA: no leaf from an earlier CA may survive next to it.
	if compgen -G "$OUT/tls/*.crt" >/dev/null || compgen -G "$OUT/sign/*.key" >/dev/null; then
		die "no CA in $OUT but certificates or keys are there; use --force to regenerate the whole PKI"
	fi

	local tkey tcrt
	tkey=$(tmpname "$key")
	tcrt=$(tmpname "$crt")
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-pkeyopt ec_param_enc:named_curve -out "$tkey"
	chmod 600 "$tkey"
	ossl req -x509 -new -config "$WORK/req.cnf" -utf8 -key "$tkey" \
		-subj "/O=govcloud/CN=govcloud CA" -days "$CA_DAYS" \
		-set_serial "$(random_serial)" -sha256 -extensions v3_ca -out "$tcrt"
	mv -f -- "$tkey" "$key"
	mv -f -- "$tcrt" "$crt"
	note created ca "ca.crt ($(cert_subject "$crt"), sha256 $(cert_sha256 "$crt" | cut -c1-16)..., $CA_DAYS days)"
}

# ------------------------------------------------------- the identities ---

# names.tsv: role<TAB>slug<TAB>name.  Loaded, extended, rewritten.
IDX_ROLE=()
IDX_SLUG=()
IDX_NAME=()

load_index() {
	local f="$OUT/names.tsv" role slug name
	[[ -e $f ]] || return 0
	while IFS=$'\t' read -r role slug name; do
		[[ -n $role && $role != \#* ]] || continue
		IDX_ROLE+=("$role")
		IDX_SLUG+=("$slug")
		IDX_NAME+=("$name")
	done <"$f"
}

save_index() {
	local f="$OUT/names.tsv" tmp i
	tmp=$(tmpname "$f")
	{
		printf '# role\tslug\tname (written by scripts/pki.sh)\n'
		for i in "${!IDX_ROLE[@]}"; do
			printf '%s\t%s\t%s\n' "${IDX_ROLE[i]}" "${IDX_SLUG[i]}" "${IDX_NAME[i]}"
		done
	} >"$tmp"
	mv -f -- "$tmp" "$f"
}

has_role() {
	local r
	for r in "${IDX_ROLE[@]}"; do
		[[ $r != "$1" ]] || return 0
	done
	return 1
}

add_identity() { # role name
	local role=$1 name=$2 slug i
	slug=$(slug_of "$name")
	for i in "${!IDX_ROLE[@]}"; do
		[[ ${IDX_ROLE[i]} == "$role" ]] || continue
		if [[ ${IDX_NAME[i]} == "$name" ]]; then
			return 0
		fi
		[[ ${IDX_SLUG[i]} != "$slug" ]] ||
			die "$role '$name' would share the file name $role-$slug with '${IDX_NAME[i]}'"
	done
	IDX_ROLE+=("$role")
	IDX_SLUG+=("$slug")
	IDX_NAME+=("$name")
}

# Issue or check one TLS leaf.  Sets LEAF_KEY_PRESENT.
ensure_tls() { # role name crt key type(server|client|host)
	local role=$1 name=$2 crt=$3 key=$4 type=$5
	local rel=${crt#"$OUT"/} want_subj got
	want_subj="O=govcloud, OU=$role, CN=$name"

	if [[ -e $crt ]]; then
		got=$(cert_subject "$crt")
		[[ $got == "$want_subj" ]] ||
			die "$rel has subject '$got', expected '$want_subj'; delete it or use --force"
		local why
		if ! why=$(openssl verify -CAfile "$OUT/ca.crt" "$crt" 2>&1); then
			die "$rel does not verify against ca.crt (issued by another CA, or expired): ${why//$'\n'/ }; delete it or use --force"
		fi
		if [[ -e $key ]]; then
			[[ $(cert_pub "$crt") == "$(key_pub "$key")" ]] ||
				die "$rel does not match its key ${key#"$OUT"/}; delete both or use --force"
			note reused "$role" "$rel ($name)"
		else
			note kept "$role" "$rel ($name; private key not in $OUT)"
		fi
		if [[ $type == server && $SERVER_NAMES_GIVEN -eq 1 ]]; then
			check_server_san "$crt"
		fi
		return 0
	fi

	local status=issued
	if [[ ! -e $key ]]; then
		gen_ec_key "$key"
		status=created
	fi
	local tcrt
	tcrt=$(tmpname "$crt")
	ossl req -new -config "$WORK/req.cnf" -utf8 -key "$key" \
		-subj "/O=govcloud/OU=$role/CN=$name" -out "$WORK/leaf.csr"
	ossl x509 -req -in "$WORK/leaf.csr" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" \
		-set_serial "$(random_serial)" -days "$DAYS" -sha256 \
		-extfile "$WORK/$type.ext" -extensions v3 -out "$tcrt"
	mv -f -- "$tcrt" "$crt"
	note "$status" "$role" "$rel ($name)"
}

cert_san_list() { # prints one "DNS:x" / "IP:y" a line
	openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null |
		sed -n '2,$p' | tr ',' '\n' | sed 's/^ *//; s/^IP Address:/IP:/' | sed '/^$/d'
}

check_server_san() {
	local crt=$1 have want='' n
	have=$(cert_san_list "$crt" | sort | tr '\n' ' ')
	for n in "${SERVER_NAMES[@]}"; do
		if is_ip "$n"; then want+="IP:$n"$'\n'; else want+="DNS:$n"$'\n'; fi
	done
	want=$(printf '%s' "$want" | sort | tr '\n' ' ')
	if [[ $have != "$want" ]]; then
		warn "kept tls/orchestrator.crt with subjectAltName '${have% }', not the requested '${want% }'; delete tls/orchestrator.* (or use --force) to reissue it"
	fi
}

ensure_sign() { # role name key pub
	local role=$1 name=$2 key=$3 pub=$4
	local rel=${key#"$OUT"/}
	if [[ -e $key ]]; then
		local kp
		kp=$(openssl pkey -in "$key" -pubout -outform DER 2>/dev/null | od -An -tx1 | tr -d ' \n')
		[[ -n $kp ]] || die "$rel cannot be read as a private key; delete it or use --force"
		# An SM2 SubjectPublicKeyInfo names the curve 1.2.156.10197.1.301.
		[[ $kp == *06082a811ccf5501822d* ]] || die "$rel is not an SM2 key; delete it or use --force"
		if [[ -e $pub ]]; then
			[[ $(key_pub "$key") == "$(openssl pkey -pubin -in "$pub" 2>/dev/null)" ]] ||
				die "${pub#"$OUT"/} does not match $rel; delete it and run again"
			note reused "$role" "$rel ($name, SM2)"
		else
			write_pub "$key" "$pub"
			note issued "$role" "${pub#"$OUT"/} ($name, from the existing key)"
		fi
		return 0
	fi
	if [[ -e $pub ]]; then
		openssl pkey -pubin -in "$pub" -noout 2>/dev/null ||
			die "${pub#"$OUT"/} cannot be read as a public key; delete it or use --force"
		note kept "$role" "${pub#"$OUT"/} ($name, SM2; private key not in $OUT)"
		return 0
	fi
	gen_sm2_key "$key"
	write_pub "$key" "$pub"
	note created "$role" "$rel ($name, SM2)"
}

# ----------------------------------------------------------- manifest -----

MANIFEST=()

manifest_cert() { # role name slug kind crt key
	local role=$1 name=$2 slug=$3 kind=$4 crt=$5 key=$6 e
	local rc=${crt#"$OUT"/} rk=
	[[ -e $key ]] && rk=${key#"$OUT"/}
	local serial end
	serial=$(ossl x509 -in "$crt" -noout -serial)
	serial=${serial#serial=}
	end=$(ossl x509 -in "$crt" -noout -enddate)
	end=${end#notAfter=}
	e="{\"role\": $(json_str "$role"), \"name\": $(json_str "$name"), \"slug\": $(json_str "$slug"), \"kind\": \"$kind\""
	e+=", \"cert\": $(json_str "$rc"), \"key\": $(json_path_or_null "$rk")"
	e+=", \"subject\": $(json_str "$(cert_subject "$crt")"), \"sha256\": \"$(cert_sha256 "$crt")\""
	e+=", \"serial\": \"${serial,,}\", \"not_after\": $(json_str "$end")"
	if [[ $kind == tls-server ]]; then
		local s sans=
		while IFS= read -r s; do
			sans+="${sans:+, }$(json_str "$s")"
		done < <(cert_san_list "$crt")
		e+=", \"san\": [$sans]"
	fi
	e+="}"
	MANIFEST+=("$e")
}

manifest_sign() { # role name slug key pub
	local role=$1 name=$2 slug=$3 key=$4 pub=$5 e rk='' ps
	[[ -e $key ]] && rk=${key#"$OUT"/}
	ps=$(openssl pkey -pubin -in "$pub" -outform DER 2>/dev/null | sha256sum)
	e="{\"role\": $(json_str "$role"), \"name\": $(json_str "$name"), \"slug\": $(json_str "$slug"), \"kind\": \"sign\""
	e+=", \"algorithm\": \"SM2\", \"key\": $(json_path_or_null "$rk"), \"pub\": $(json_str "${pub#"$OUT"/}")"
	e+=", \"pub_sha256\": \"${ps:0:64}\"}"
	MANIFEST+=("$e")
}

write_manifest() {
	local f="$OUT/pki.json" tmp i abs
	abs=$(cd "$OUT" && pwd -P)
	tmp=$(tmpname "$f")
	{
		printf '{\n  "version": 1,\n  "generator": "scripts/pki.sh",\n'
		printf '  "dir": %s,\n' "$(json_str "$abs")"
		printf '  "sm2_distid": "1234567812345678",\n'
		printf '  "entries": [\n'
		for i in "${!MANIFEST[@]}"; do
			printf '    %s%s\n' "${MANIFEST[i]}" "$([[ $i -lt $((${#MANIFEST[@]} - 1)) ]] && printf ',')"
		done
		printf '  ]\n}\n'
	} >"$tmp"
	mv -f -- "$tmp" "$f"
}

README_ROWS=()

write_readme() {
	local f="$OUT/README.txt" tmp r
	tmp=$(tmpname "$f")
	{
		cat <<'EOF'
govcloud PKI (generated by scripts/pki.sh; run it again to add identities,
it reuses the CA and keeps every existing certificate and key).

Layout
  ca.crt, ca.key               CA: EC P-256, /O=govcloud/CN=govcloud CA,
                               basicConstraints critical CA:true pathlen:0
  tls/orchestrator.crt|.key    orchestrator TLS server cert (serverAuth, SAN)
  tls/<role>-<slug>.crt|.key   TLS client certs (clientAuth), EC P-256;
                               subject /O=govcloud/OU=<role>/CN=<name>
  sign/<role>-<slug>.key|.pub  SM2 signing keys (PKCS#8 PEM private key,
                               SubjectPublicKeyInfo PEM public key)
  pki.json                     manifest: role, name, slug, kind, paths,
                               subject and SHA-256 fingerprint of every cert
  names.tsv                    role<TAB>slug<TAB>name of every identity

A slug is the name when it is plain ASCII ([A-Za-z0-9][A-Za-z0-9._-]*),
otherwise "x" + hex of the first 6 bytes of SHA-256(UTF-8 name).

Roles: orchestrator (server + service signing key), approval (approval
system), tenant (one per unit), provider, authority, host (one per host agent;
its signing key signs wipe certificates), operator (a person; TLS only).

Private keys belong to their parties: hand each its tls/*.key and sign/*.key
and remove them from here; later runs keep the certificates and public keys.
SM2 signatures use the distinguishing id 1234567812345678 (GM/T 0009).

Identities
EOF
		printf '  %-13s %-20s %s\n' role name files
		for r in "${README_ROWS[@]}"; do
			printf '%s\n' "$r"
		done
	} >"$tmp"
	mv -f -- "$tmp" "$f"
}

readme_row() { # role name files...
	local role=$1 name=$2
	shift 2
	README_ROWS+=("$(printf '  %-13s %-20s %s' "$role" "$name" "$*")")
}

# ---------------------------------------------------------------- main ----

force_clean() {
	# Only the files this script makes: DIR itself may hold other things.
	rm -f -- "$OUT/ca.crt" "$OUT/ca.key" "$OUT/pki.json" "$OUT/README.txt"
	rm -rf -- "$OUT/tls" "$OUT/sign"
}

main() {
	parse_args "$@"
	command -v openssl >/dev/null 2>&1 || die "the openssl command is not installed"

	if [[ ! -d $OUT ]]; then
		mkdir -p -- "$OUT" || die "cannot create $OUT"
	fi
	[[ -w $OUT ]] || die "$OUT is not writable"
	LOCKDIR="$OUT/.pki.lock"
	if ! mkdir -- "$LOCKDIR" 2>/dev/null; then
		LOCKDIR=
		die "$OUT/.pki.lock exists: another pki.sh is running here (or one was killed: remove the directory)"
	fi
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/gc-pki.XXXXXX")

	[[ $FORCE -eq 1 ]] && force_clean
	mkdir -p -- "$OUT/tls" "$OUT/sign"
	write_openssl_config

	ensure_ca

	load_index
	# The default lists apply only while DIR holds no identity of that role.
	[[ ${#UNITS[@]} -gt 0 ]] || has_role tenant || UNITS=('市xx局')
	[[ ${#HOSTS[@]} -gt 0 ]] || has_role host || HOSTS=(host-a host-b)
	[[ ${#OPERATORS[@]} -gt 0 ]] || has_role operator || OPERATORS=('张三')
	local n
	add_identity orchestrator "$ORCH_CN"
	add_identity approval "$APPROVAL_CN"
	for n in ${UNITS[@]+"${UNITS[@]}"}; do add_identity tenant "$n"; done
	add_identity provider "$PROVIDER_CN"
	add_identity authority "$AUTHORITY_CN"
	for n in ${HOSTS[@]+"${HOSTS[@]}"}; do add_identity host "$n"; done
	for n in ${OPERATORS[@]+"${OPERATORS[@]}"}; do add_identity operator "$n"; done
	save_index

	manifest_cert ca "govcloud CA" ca ca "$OUT/ca.crt" "$OUT/ca.key"
	readme_row ca "govcloud CA" ca.crt ca.key

	local role i name slug crt key skey spub
	for role in orchestrator approval tenant provider authority host operator; do
		for i in "${!IDX_ROLE[@]}"; do
			[[ ${IDX_ROLE[i]} == "$role" ]] || continue
			name=${IDX_NAME[i]}
			slug=${IDX_SLUG[i]}
			if [[ $role == orchestrator ]]; then
				crt="$OUT/tls/orchestrator.crt"
				key="$OUT/tls/orchestrator.key"
				ensure_tls "$role" "$name" "$crt" "$key" server
				manifest_cert "$role" "$name" "$slug" tls-server "$crt" "$key"
			else
				crt="$OUT/tls/$role-$slug.crt"
				key="$OUT/tls/$role-$slug.key"
				ensure_tls "$role" "$name" "$crt" "$key" "$([[ $role == host ]] && echo host || echo client)"
				manifest_cert "$role" "$name" "$slug" tls-client "$crt" "$key"
			fi
			local files="${crt#"$OUT"/}"
			[[ -e $key ]] && files+=" ${key#"$OUT"/}"
			if [[ $role != operator ]]; then
				skey="$OUT/sign/$role-$slug.key"
				spub="$OUT/sign/$role-$slug.pub"
				ensure_sign "$role" "$name" "$skey" "$spub"
				manifest_sign "$role" "$name" "$slug" "$skey" "$spub"
				[[ -e $skey ]] && files+=" ${skey#"$OUT"/}"
				files+=" ${spub#"$OUT"/}"
			fi
			readme_row "$role" "$name" "$files"
		done
	done

	write_manifest
	write_readme

	printf '%s: PKI in %s\n' "$PROG" "$(cd "$OUT" && pwd -P)"
	printf '%s\n' "${SUMMARY[@]}"
	printf '  %d created, %d reused or kept; manifest %s, layout %s\n' \
		"$N_CREATED" "$N_REUSED" "$OUT/pki.json" "$OUT/README.txt"
}

main "$@"
