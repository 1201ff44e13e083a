# Completes a command line in a real interactive zsh (driven through zsh/zpty) and prints the
# candidates the completion functions added, one per line.
# usage: zsh -f zsh-complete.zsh FPATH_DIR 'command line to complete'
zmodload zsh/zpty
export TERM=${TERM:-dumb}  # zle needs a terminal type
local out
zpty z zsh -f -i
# set-up; every candidate a completion function adds is also printed between markers
zpty -w z "fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; bindkey '^I' complete-word; unsetopt beep list_beep"
zpty -w z 'compadd () { local -a __hits; builtin compadd -O __hits "$@"; (( $#__hits )) && print -r -l -- "<""<${^__hits[@]}>>"; builtin compadd "$@" }'
zpty -w z "PS1=__PR''OMPT__"
# the new prompt shows that zle is reading keys: type the line and <Tab>, then clear the line
# and print a marker (zle takes the keys in order)
zpty -r z out '*__PROMPT__*'
zpty -n -w z "$2"$'\t\x15'"echo __DO''NE__"$'\n'
zpty -r z out '*__DONE__*'
print -r -- $out | grep -ao '<<[^>]*>>' | sed 's/^<<//; s/>>$//' | sort -u
zpty -d z
