BlogvarJ@P)f<vS¾'QH¼†½PLÝ»k‚
À"©Ÿ¿óC ¿H–§¼lCó¿n…J¿‰¢ö¿.}À`Ý»»‡<Àg º