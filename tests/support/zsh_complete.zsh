# Prints what zsh's completion offers for a command line, one match a line,
# each after "<hit>". Usage: zsh -f zsh_complete.zsh FPATH_DIR 'deviceflow login --ca'
# An interactive zsh runs in a pseudo-terminal (zsh/zpty); compadd is wrapped
# to print the matches it is given, and a Tab asks for completion.
zmodload zsh/zpty
zpty shell zsh -f -i
zpty -w shell "PROMPT=; RPROMPT=; fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w shell 'compadd() { builtin compadd -O __hits "$@"; print -rl -- "<hit>${^__hits[@]}"; builtin compadd "$@"; }'
zpty -w shell "bindkey '^I' complete-word; print -r -- '<begin>'"
zpty -w shell "$2"$'\t'
zpty -w shell $'\C-u'"print -r -- '<end>'"
output=""
while zpty -r shell line; do
  output+="$line"
  [[ $output == *'<begin>'*'<end>'* ]] && break
done
zpty -d shell
print -r -- "$output" | tr -d '\r' | grep -ao '<hit>[^ <]*' | grep -v '\$' | sort -u
