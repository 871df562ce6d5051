# zsh completion for circusctl (jcircus). Load it with:  source <(circusctl completion zsh)
# zsh runs the bash completion function (printed below) through bashcompinit.
autoload -U +X compinit && compinit -u
autoload -U +X bashcompinit && bashcompinit
