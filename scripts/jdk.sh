# Sourced by ./trm, ./build and the other scripts: finds a JDK 25 or newer by itself.
# Order: $JAVA_HOME, `java` on PATH, then the usual install locations. Prints its home on stdout.
trm_jdk_major() {  # $1 = a JDK home; prints its feature version, or nothing
  local rel="$1/release"
  [ -x "$1/bin/java" ] || return 1
  if [ -f "$rel" ]; then
    sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$rel"
  else
    "$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1
  fi
}

trm_find_jdk() {
  local want=25 c v
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for c in /usr/lib/jvm/*25* /usr/lib/jvm/*-2[6-9]* /usr/lib/jvm/* /opt/java/* /opt/jdk* \
           "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -d "$c" ] && candidates+=("$c")
  done
  for c in "${candidates[@]}"; do
    v=$(trm_jdk_major "$c" 2>/dev/null) || continue
    if [ -n "$v" ] && [ "$v" -ge "$want" ] 2>/dev/null && [ -x "$c/bin/javac" ]; then
      echo "$c"; return 0
    fi
  done
  echo "error: no JDK $want or newer found (looked at JAVA_HOME, java on PATH, /usr/lib/jvm, /opt, ~/.sdkman, ~/.jdks). Install a JDK 25 and set JAVA_HOME." >&2
  return 1
}

# The JVM flags are set once, in pom.xml (property trm.jvm.flags); everything else reads them from there.
trm_jvm_flags() {
  sed -n 's:.*<trm.jvm.flags>\(.*\)</trm.jvm.flags>.*:\1:p' "$1/pom.xml" | head -n1
}
