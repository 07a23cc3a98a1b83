"""The inbound screen's phrases: data, not code (see `screen.py` for how they are matched).

Patterns are regular expressions over `text.words()` forms: lower-case ASCII, accents stripped,
punctuation as spaces, padded with one space at each end, so `" stop "` is a whole word. Letters
must not be doubled on purpose (patterns are also matched "squeezed": "stoooop" -> "stop"). Add
phrases freely, with a golden case for each class of phrasing (conversations/tests/golden/).
"""

import re

# Determiners and the like, shared by the phrase patterns below.
_A = r"(?:a |an |the |your |ur |some |one of (?:your|the) |any )?"
# What people call an assistant when they ask whether they are talking to one.
_BOT = (r"(?:bot|robot|ai|a i|machine|chat ?bot|chat ?gpt|gpt|claude|llm|computer|automated system|auto ?responder|"
        r"artificial intelligence)")

PATTERNS: dict[str, dict[str, list[str]]] = {
    "crisis": {
        "en": [
            r" (?:end|ending) (?:things|everything) (?:tonight|today|for good|once and for all|soon|now) ", r" (?:thinking|thought) (?:of|about) ending (?:things|it|everything) ",
            # Swallowing a lot of medicine ("took a whole bottle of pills", "swallowed all my meds").
            r" (?:took|taken|swallowed|ate|downed|overdosed on) (?:[a-z]+ ){0,6}?(?:a |an |the |my |all |of |whole |entire |handful |bottle |box |pack |packet |bunch |lot |too |many |much |half )*"
            r"(?:pills|tablets|meds|medication|medications|medicine|painkillers|sleeping pills|antidepressants|paracetamol|tylenol|xanax) ",
            # Wishing to be dead or gone, announcing one will not be around, and the ways people name a method.
            r" wish (?:i was|i were|i d be|i could be|to be|i was just|i were just) (?:dead|gone) ", r" wish i (?:was|were|d been|had been) never born ",
            r" (?:won t|wont|will not|not going to|not gonna) be (?:alive|around|here) (?:much longer|for long|anymore|any more|tomorrow|next week|by) ",
            r" (?:hang|hanging|drown|drowning|shoot|shooting|poison|poisoning) my ?self ",
            r" jump(?:ing)? (?:off|from|in front of) (?:a |the |my |this )?(?:bridge|building|roof|balcony|cliff|train|window|tower) ",
            r" can t (?:go on|keep going) (?:living|anymore|like this any) ", r" (?:plan|planning|planned) (?:how |when )?to (?:die|end (?:it|my life)) ",
            # Someone collapsing or not breathing right now; fear for one's life at home.
            r" (?:isn t|is not|isnt|not|stopped|has stopped|s not|s stopped) breathing ", r" (?:collapsed|no pulse|convulsing) ",
            r" (?:not|don t feel|never feel) safe (?:at home|with (?:him|her|my))", r" threaten(?:ed|s|ing)? to (?:kill|hurt|beat|stab|shoot) (?:me|us|my) ",
            r" (?:kill|killing|hurt|hurting|harm|harming|cut|cutting|end|ending|off|offing) my ?self ", r" kms ",
            r" (?:end|ending|take|taking) (?:my|my own) (?:life|lives) ", r" end it all ", r" suicid",
            r" (?:want|wanna|going|gonna|ready) (?:to )?die ", r" (?:don t|dont|do not) want to (?:live|be alive|exist)",
            r" no reason to live ", r" better off dead ", r" self ?harm", r" unalive", r" overdos",
            r" heart attack ", r" (?:can t|cant|cannot|can not) breathe? ", r" chest pains? ", r" (?:having|had) a stroke ",
            r" seizure", r" anaphyla", r" allergic reaction ", r" unconscious ", r" passed out ", r" fainted ",
            r" (?:bleeding|blood) (?:a lot|heavily|badly|everywhere|won t stop|wont stop) ", r" ambulance ",
            r" (?:call|calling|dial) (?:911|999|112) ", r" emergency room ", r" medical emergency ",
            r" (?:this is|it s|its|i have|having) an emergency ", r" (?:throat|face|tongue|lips?) (?:is |are )?(?:closing|swelling) ",
            r" (?:being|been|was|got) (?:abused|assaulted|raped|molested|beaten) ", r" domestic (?:violence|abuse) ",
            r" sexual(?:ly)? (?:assault|abuse|harass)", r" rape ", r" raped ",
            r" (?:he|she|they|my (?:husband|boyfriend|partner|dad|father|mom|mother|wife|girlfriend|ex|stepdad)) "
            r"(?:hits|beats|hurts|abuses|chokes|strangles) me ",
        ],
        "es": [
            r" (?:me )?(?:tome|trague|he tomado|me he tomado|tragado|ingeri) (?:toda |todas |todos |las |los |mis |una |un |caja |bote |de |monton |muchas |muchos |"
            r"demasiadas |demasiados )*(?:pastillas|pildoras|medicamentos|medicinas|somniferos|calmantes|ansioliticos|antidepresivos) ",
            r" no respira", r" (?:se )?(?:desplomo|ha desplomado|ha colapsado|colapso) ", r" no tiene pulso ",
            r" suicid", r" matarme ", r" (?:quitarme|quitar me) la vida ", r" acabar con mi vida ",
            r" no quiero (?:seguir )?vivir ", r" quiero morir", r" hacerme dano ", r" autolesion",
            r" cortarme las venas ", r" sobredosis ", r" infarto ", r" ataque al corazon ", r" no puedo respirar ",
            r" dolor (?:en el|de|del) pecho ", r" convulsion", r" desmay", r" inconsciente ", r" ambulancia ",
            r" urgencias ", r" una emergencia ", r" emergencia medica ",
            r" (?:mi (?:pareja|esposo|marido|novio|novia|esposa|padre|madre|ex)|el|ella) me (?:pega|golpea|maltrata) ",
            r" maltrato ", r" violencia (?:domestica|de genero) ", r" abus(?:aron|o) de mi ", r" me violo ", r" violacion ",
        ],
        "pt": [
            r" (?:tomei|engoli|ingeri) (?:todos |todas |os |as |meus |minhas |um |uma |monte |de |cartela |caixa |muitos |muitas |vidro )*"
            r"(?:remedios|comprimidos|pilulas|medicamentos|calmantes) ",
            r" nao (?:esta )?respira", r" (?:desmaiou|desabou) ", r" nao aguento mais (?:viver|a vida|essa vida|estar viv)", r" (?:quero|vou) sumir (?:para sempre|pra sempre|de vez) ",
            r" suicid", r" me matar ", r" tirar (?:a )?minha (?:propria )?vida ", r" acabar com (?:a )?minha vida ",
            r" nao quero (?:mais )?viver ", r" quero morrer ", r" me machucar ", r" automutil", r" overdose ",
            r" infarto ", r" ataque cardiaco ", r" nao consigo respirar ", r" dor no peito ", r" convuls", r" desmai",
            r" inconsciente ", r" ambulancia ", r" pronto socorro ", r" uma emergencia ", r" emergencia medica ",
            r" (?:meu (?:marido|namorado|parceiro|pai|ex)|minha (?:mae|esposa|namorada)|ele|ela) me (?:bate|agride|espanca) ",
            r" violencia domestica ", r" abuso sexual ", r" estupr",
        ],
        "fr": [
            r" (?:avale|pris|ingere) (?:tous |toutes |mes |les |une |boite |de |plaquette |trop |plein |tout )*(?:medicaments|cachets|comprimes|pilules|somniferes|anxiolytiques) ",
            r" ne respire (?:plus|pas) ", r" (?:fait|faire|fais) un malaise ", r" s est effondre", r" (?:ne plus me reveiller|disparaitre pour toujours) ",
            r" suicid", r" me tuer ", r" mettre fin a (?:ma vie|mes jours) ", r" en finir ", r" (?:je )?veux mourir ",
            r" envie de mourir ", r" me faire du mal ", r" automutil", r" scarifi", r" surdose ", r" overdose ",
            r" crise cardiaque ", r" infarctus ", r" (?:n arrive|arrive) (?:pas|plus) a respirer ",
            r" (?:ne )?peux (?:pas|plus) respirer ", r" douleurs? (?:a la|dans la) poitrine ", r" convulsion",
            r" evanoui", r" inconscient", r" ambulance ", r" urgences ", r" samu ", r" une urgence medicale ",
            r" (?:mon (?:mari|copain|conjoint|pere|ex)|ma (?:mere|femme|copine)|il|elle) me (?:frappe|bat|violente) ",
            r" violences? conjugales? ", r" violences? domestiques? ", r" abus sexuel", r" viole?e? ",
        ],
        "de": [
            r" (?:alle |meine |die |zu viele |viele |eine |ganze |packung |schachtel )*(?:tabletten|pillen|medikamente|schlaftabletten) (?:geschluckt|genommen|eingenommen) ",
            r" atmet nicht", r" (?:zusammengebrochen|kollabiert|umgekippt) ", r" keinen puls ",
            r" selbstmord", r" suizid", r" mich umbringen ", r" mir das leben nehmen ", r" nicht mehr leben ",
            r" (?:will|mochte) sterben ", r" sterben (?:will|mochte) ", r" mich selbst verletzen ", r" ritze mich ",
            r" uberdosis ", r" herzinfarkt ", r" keine luft ", r" kann nicht (?:mehr )?atmen ", r" brustschmerz",
            r" krampfanfall ", r" bewusstlos ", r" ohnmacht", r" notarzt ", r" krankenwagen ", r" notaufnahme ",
            r" ein notfall ", r" medizinischer notfall ",
            r" (?:mein (?:mann|freund|partner|vater|ex)|meine (?:mutter|frau|freundin)|er|sie) (?:schlagt|misshandelt) mich ",
            r" hausliche gewalt ", r" missbrauch", r" vergewaltig",
        ],
        "it": [
            r" (?:preso|ingoiato|inghiottito) (?:tutte |tutti |le |i |mie |miei |troppe |troppi |una |scatola |di |flacone |intera |intero )*"
            r"(?:pillole|pastiglie|medicine|compresse|farmaci|sonniferi|medicinali) ",
            r" non respira", r" (?:e )?(?:crollat[oa]|collassat[oa]) ", r" non (?:si sveglia|reagisce) ",
            r" suicid", r" uccidermi ", r" togliermi la vita ", r" farla finita ", r" non voglio (?:piu )?vivere ",
            r" voglio morire ", r" farmi del male ", r" autolesion", r" overdose ", r" infarto ", r" attacco di cuore ",
            r" non riesco a respirare ", r" dolore al petto ", r" convulsion", r" svenut", r" svenimento ",
            r" incosciente ", r" ambulanza ", r" pronto soccorso ", r" un emergenza ", r" emergenza medica ",
            r" (?:mio (?:marito|ragazzo|compagno|padre|ex)|mia (?:madre|moglie|ragazza)|lui|lei) mi (?:picchia|maltratta) ",
            r" violenza domestica ", r" abus(?:o|i) sessual", r" stupr",
        ],
    },
    "threat": {
        "en": [
            # Violence announced against a person of the business, not only "you".
            r" (?:i ll|ill|i will|i m going to|im going to|i am going to|i m gonna|im gonna|gonna|going to|we ll|we will|i want to|i wanna) "
            r"(?:kill|murder|shoot|stab|strangle|behead) (?:him|her|them|everyone|everybody|(?:the|your|that|this) "
            r"(?:coach|trainer|owner|manager|staff|receptionist|instructor|therapist|team|boss|girl|guy|woman|man|bitch|bastard)) ",
            # Violence to a body part ("smash your face in", "break his legs"), arson, a weapon brought along.
            r" (?:smash|bash|kick|punch|break|beat|cave|knock|rip|slit|snap) (?:in )?(?:your|ur|his|her|their) (?:[a-z]+ )?"
            r"(?:face|head|teeth|skull|legs?|arms?|neck|throat|jaw|nose|knees?) ",
            r" (?:torch|firebomb|set fire to|burn down|burn) (?:your|ur|the|this) (?:[a-z]+ )?(?:store|shop|place|studio|house|office|building|salon|gym|clinic|car) ",
            r" (?:bring|bringing|brought|grab|grabbing|get|getting|got|have|carrying|pack|packing) (?:my |a |the |his )?"
            r"(?:gun|guns|knife|knives|rifle|pistol|shotgun|weapon|machete) ",
            r" (?:i ll|ill|i will|i m going to|im going to|i am going to|i m gonna|im gonna|gonna|going to|i could|we ll|we will)"
            r" (?:kill|murder|shoot|stab|hurt|beat up|come for|slap|punch) (?:you|u|ya|y all|all of you) ",
            r" (?:kill|murder|shoot|stab) (?:you|u|ya|y all|all of you|everyone) ", r" you(?: re| are|re) (?:dead|going to die|gonna die) ",
            r" burn (?:down )?(?:your|the|ur) (?:store|shop|place|studio|house|office|building|salon|gym)s? ",
            r" (?:plant|planted|place|put) a bomb ", r" bomb (?:threat|your|the|ur) ",
            r" blow up (?:your|the|ur) (?:store|shop|place|studio|house|office|building|salon|gym) ",
            r" i know where (?:you|u) (?:live|work|are) ", r" watch your back ", r" you(?: ll| will|ll) (?:regret|pay for) (?:this|it) ",
            r" beat the (?:crap|shit|hell) out of ", r" shoot up ",
        ],
        "es": [
            r" (?:romper|rompo|partir|parto|reventar|reviento) (?:te |le |les )?(?:la cara|la boca|las piernas|la cabeza|los dientes|el alma) ",
            r" (?:te|los|les) (?:voy a|vamos a) (?:meter|dar) (?:un tiro|una paliza|una punalada|de hostias) ",
            r" (?:te|los|las|les) (?:voy a|vamos a) (?:matar|pegar|golpear|romper la cara|buscar|encontrar) ", r" te mato ",
            r" (?:vas|van) a morir ", r" se donde (?:vives|trabajas|viven) ", r" quemar (?:tu|su|el|vuestro) (?:local|negocio|tienda|casa|estudio) ",
            r" (?:poner|pondre|puse) una bomba ", r" una bomba en ", r" te vas a arrepentir ", r" se van a arrepentir ",
        ],
        "pt": [
            r" (?:encher|enchendo|encho) (?:voce |voces |te |vcs |vc )?de (?:porrada|pancada|soco|tapa|tiro|bala) ",
            r" (?:quebrar|quebro|arrebentar|arrebento) (?:a |sua |tua |a sua |a tua |seus |teus |os seus )?(?:cara|fuca|dentes|pernas|cabeca) ",
            r" (?:vou|vamos) (?:te matar|matar voce|matar voces|te bater|acabar com voce) ", r" te mato ",
            r" (?:voce vai|voces vao|vai) morrer ", r" sei onde (?:voce mora|voce trabalha|voces ficam|mora) ",
            r" (?:vou|vamos) (?:queimar|incendiar|explodir) ", r" (?:colocar|botar) uma bomba ", r" uma bomba n[ao] ",
            r" (?:vai|vao) se arrepender ",
        ],
        "fr": [
            r" (?:casser|peter|exploser|defoncer|eclater|fracasser) (?:la |ta |votre |sa |les |tes |vos )?(?:gueule|figure|tete|dents|jambes|crane) ",
            r" (?:vous|te|les) (?:flinguer|buter|planter|egorger|crever|cramer) ",
            r" (?:bruler|incendier|cramer|faire sauter) (?:ton |votre |le |la |ta )?(?:magasin|salon|local|studio|boutique|cabinet|maison|voiture) ",
            r" (?:je vais|on va) (?:te|vous) (?:tuer|frapper|buter|defoncer|retrouver) ", r" je (?:te|vous) tue ",
            r" (?:tu vas|vous allez) mourir ", r" je sais ou (?:tu habites|vous habitez|tu travailles) ",
            r" (?:bruler|incendier) (?:ton|votre|le) (?:magasin|salon|local|studio|boutique) ", r" (?:poser|mettre) une bombe ",
            r" une bombe (?:dans|chez|a) ", r" (?:tu vas|vous allez) le regretter ",
        ],
        "de": [
            r" stech(?:e)? (?:ich |wir )?(?:dich|euch|sie|ihn) ab ", r" (?:dich|euch|ihn) (?:abstechen|abknallen|erschiessen|erschlagen|kaltmachen|umlegen|plattmachen) ",
            r" (?:mach|mache|machen) (?:ich |wir )?(?:dich|euch|ihn) (?:kalt|platt) ", r" (?:schlag|schlage|hau|haue) (?:dir|euch|ihm) (?:die fresse|den schadel|die zahne) ",
            r" (?:ich )?(?:bringe|bring) (?:dich|euch|sie) um ", r" ich werde (?:dich|euch|sie) (?:umbringen|toten|finden|schlagen|fertigmachen) ",
            r" du bist tot ", r" ich weiss wo (?:du wohnst|sie wohnen|du arbeitest) ", r" (?:laden|geschaft|studio|haus) anzunden ",
            r" (?:eine|die) bombe ", r" das (?:wirst du|werden sie|werdet ihr) bereuen ",
        ],
        "it": [
            r" (?:ti|vi|gli) (?:spacco|rompo|sfascio|spezzo) (?:la faccia|la testa|il muso|le gambe|le ossa|i denti) ", r" (?:vi|ti) (?:brucio|incendio|do fuoco|faccio saltare) ",
            r" ti (?:ammazzo|uccido) ", r" vi (?:ammazzo|uccido) ", r" ti faccio del male ", r" sei morto ",
            r" so dove (?:abiti|lavori|abitate) ", r" dare fuoco ", r" (?:mettere|mettero|piazzare) una bomba ",
            r" una bomba (?:nel|nella|in|al) ", r" te ne pentirai ", r" ve ne pentirete ",
        ],
    },
    "legal": {
        "en": [
            r" (?:see|meet) (?:you|u|y all) in court ", r" court (?:case|order|summons|date) ",
            r" my (?:personal )?(?:data|information|details|info) (?:erased|deleted|removed|wiped) ",
            r" revers(?:e|ed|ing) (?:the |my |this |that |a )?(?:charge|payment|transaction) ",
            # Contesting a payment with the bank, group actions, asks about the personal data held.
            r" disput(?:e|ed|ing) (?:[a-z]+ ){0,2}(?:charge|charges|payment|payments|transaction|transactions|bill|invoice) ",
            r" (?:my |the )?bank (?:to )?(?:reverse|dispute|claw back) ", r" reverse the (?:charge|payment) ", r" class action ",
            r" (?:data|information|info|details) (?:you (?:hold|have|keep|store|stored|collected|process)|(?:held|stored|kept) by you) (?:about|on) me ",
            r" (?:copy|export|record) of (?:all )?(?:the |my )?(?:personal )?(?:data|information|info) ",
            r" (?:erase|remove|wipe|purge) (?:all )?(?:of )?my (?:personal )?(?:data|information|details) ",
            # "my lawyer" (not "my lawyer friend": a profession is no claim)
            r" (?:my|our) (?:lawyer|attorney|solicitor)s? (?!friend|colleague|client|sister|brother|cousin|neighbou?r)", r" lawyer up ", r" legal action ", r" lawsuit", r" sued ",
            r" (?:call|calling|contact|contacting|get|getting|hire|hiring|talk to|talking to|speak to|consult|consulting|involve|"
            r"involving|with) (?:a |my |our )?(?:lawyer|attorney|solicitor)s? ",
            r" (?:sue|suing) (?:you|u|your|the|this|y all|them|the studio|the business) ", r" (?:will|ll|gonna|going to) sue ",
            r" take (?:you|u|this|y all) to court ", r" small claims ", r" charge ?backs? ",
            r" dispute (?:the |this |my )?(?:charge|payment|transaction) ", r" report (?:you|u|this|your business) to ",
            # b{3}: a squeezed " bbb " would be " b " (see _compiled), which any lone letter b matches.
            r" consumer protection ", r" better business bureau ", r" b{3} ", r" gdpr ", r" ccpa ",
            r" data (?:protection|request|access request|deletion) ", r" delete (?:all )?(?:of )?my (?:data|information|info|personal)",
            r" right to (?:be forgotten|erasure) ", r" subject access request ", r" what (?:data|information|info) do you (?:have|hold|store|keep) ",
            r" trading standards ", r" cease and desist ", r" defamation ",
        ],
        "es": [
            r" mis? abogad[oa]s? ", r" (?:un|una) abogad[oa] (?:para|contra) ", r" (?:llamar|contactar|consultar|hablar con) (?:a )?(?:un |una |mi )?abogad", r" demandar", r" (?:una|la|poner una) demanda (?:judicial|legal|contra) ", r" acciones? legal(?:es)? ",
            r" denunciar", r" (?:una|la|poner una) denuncia ", r" contracargo", r" proteccion de datos ", r" rgpd ",
            r" (?:borren|borrar|eliminar|eliminen|borrad) (?:todos )?mis datos ", r" mis datos personales ", r" profeco ",
            r" oficina (?:del|de) consumidor ",
        ],
        "pt": [
            r" (?:meu|minha|meus) advogad", r" (?:chamar|contratar|falar com|consultar) (?:um |uma |o |meu )?advogad", r" processar ", r" processo judicial ", r" acao judicial ", r" na justica ", r" procon ",
            r" chargeback ", r" estorno ", r" lgpd ", r" (?:apagar|excluir|apaguem|excluam) (?:todos )?(?:os )?meus dados ",
            r" meus dados pessoais ", r" protecao de dados ", r" reclame aqui ",
        ],
        "fr": [
            r" (?:mon|notre|mes) avocats? ", r" (?:appeler|contacter|consulter|prendre) (?:un|mon) avocat ", r" poursuivre en justice ", r" (?:vous|te) poursuivre ", r" porter plainte ", r" (?:une|ma) plainte ",
            r" proces ", r" tribunal ", r" action en justice ", r" mise en demeure ", r" opposition (?:sur|a) (?:ma carte|le paiement|mon paiement) ",
            r" rgpd ", r" supprimer? (?:toutes )?mes donnees ", r" supprimez (?:toutes )?mes donnees ", r" mes donnees personnelles ",
            r" protection des donnees ", r" cnil ", r" litige ",
        ],
        "de": [
            r" (?:mein|meine|meinen|unser|unseren) (?:rechts)?anw[a-z]+ ", r" (?:einen |den |meinen )?(?:rechts)?anwalt (?:einschalten|kontaktieren|nehmen|anrufen) ", r" verklag", r" klage ", r" vor gericht ", r" rechtliche schritte ", r" ruckbuchung",
            r" chargeback ", r" dsgvo ", r" (?:meine )?daten (?:loschen|geloscht) ", r" loschen sie meine daten ",
            r" auskunft (?:uber|nach) ", r" datenschutz", r" verbraucherzentrale ", r" abmahnung ",
        ],
        "it": [
            r" (?:mio|il mio|nostro) avvocat", r" (?:chiamare|contattare|sentire) (?:un |il mio |l )?avvocat", r" denunc", r" (?:fare|faccio|vi faccio|ti faccio) causa ", r" querela ", r" tribunale ",
            r" azion[ei] legal[ei] ", r" chargeback ", r" storno ", r" gdpr ", r" cancellare i miei dati ",
            r" cancellate i miei dati ", r" i miei dati personali ", r" protezione dei dati ", r" garante (?:della )?privacy ",
            r" diffida ",
        ],
    },
    "opt_out": {
        "en": [
            r" enough (?:with )?(?:the |your |these |ur |all the |all these )?(?:messages|msgs|dms|texts|emails|spam|promos|offers) ",
            r" stop (?:the |these |those |your |ur |all |all the |all your |all these |sending (?:me )?)?(?:messages|msgs|dms|texts|emails|spam|promos|offers|follow ups|marketing) ",
            r" (?:don t|do not|dont|never) want to (?:hear from|be contacted by|get messages from) (?:you|u|your|this|ur) ",
            r" unsubscribe", r" opt (?:me )?out ", r" optout ",
            r" stop (?:messaging|texting|contacting|writing|sending|spamming|dming|dm ing|bothering|pestering|emailing|"
            r"following up|hitting me up|reaching out|the messages|these messages|all (?:the )?messages|with the messages|msging) ",
            r" (?:don t|do not|dont|never|pls dont|please don t|quit|stop) (?:ever )?(?:message|messaging|text|texting|contact|contacting|"
            r"dm|dming|write|writing|email|emailing|bother|bothering|spam|spamming|hit|hitting|reach|reaching) (?:to |out to |me up )?me ",
            r" (?:don t|do not|dont|never) (?:ever )?(?:message|text|contact|dm|write|email) (?:to )?me again ",
            r" remove me from ", r" take me off ", r" leave me alone ", r" lose my number ", r" delete my number ",
            r" no more (?:messages|msgs|dms|texts|emails|spam|contact|promos|marketing|of (?:this|these)) ",
            r" (?:don t|do not|dont) want (?:any )?(?:more |further )?(?:messages|dms|texts|emails) ",
            r" i m blocking you ", r" blocking (?:you|this account) ", r" stop (?:it|this) now ",
        ],
        "es": [
            r" no me (?:escribas|escriban|contactes|contacten|mandes|manden|envies|envien|molestes|molesten|vuelvas a escribir)",
            r" (?:deja|dejen|dejad) de (?:escribirme|enviarme|contactarme|mandarme|molestarme) ",
            r" dar(?:me)? de baja ", r" dame de baja ", r" denme de baja ", r" no quiero (?:recibir )?mas (?:mensajes|correos) ",
            r" (?:sacame|sacadme|quitame|borrame|eliminame) de (?:la|tu|su|vuestra|esta) lista ", r" dejame en paz ",
            r" dejenme en paz ",
        ],
        "pt": [
            r" me (?:tira|tire|tirem|remova|removam|remove|exclua|excluam|apague|apaguem) d[a-z]* (?:[a-z]+ )?lista", r" nao quero (?:mais )?(?:receber )?(?:mais )?(?:nenhuma )?mensage",
            r" (?:pare|parem|para) de (?:me )?(?:mandar|enviar|escrever|incomodar|chamar)",
            r" nao (?:me )?(?:mande|mandem|envie|enviem|escreva|escrevam|contate|contatem|procure|procurem) mais ",
            r" (?:quero )?sair da lista ", r" me (?:tira|tire|remova|remove) da (?:sua |sua |)lista ", r" me remova ",
            r" descadastr", r" nao quero (?:mais )?(?:receber )?mensage", r" me (?:deixa|deixe) em paz ",
        ],
        "fr": [
            r" ne (?:me |m )?(?:contactez|contacte|ecrivez|ecris|relancez|relance|envoyez|envoie) plus ",
            r" (?:arretez|arrete|cessez|cesse) de m (?:ecrire|envoyer|contacter|spammer|harceler|relancer)",
            r" ne (?:me )?(?:contactez|contacte|ecrivez|ecris|relancez|relance) plus ", r" (?:desabonnez|desinscrivez) moi ",
            r" je ne veux plus (?:de |recevoir|vos|tes|aucun)", r" (?:retirez|enlevez|supprimez) moi de ",
            r" laisse[sz]? moi tranquille ", r" plus de messages ",
        ],
        "de": [
            r" lass(?:t|en sie|en)? (?:mich|uns) (?:bitte |endlich |doch )*in ruhe ",
            r" (?:schreib|schreiben sie|schreibt) mir nicht mehr ", r" (?:kontaktier|kontaktieren sie|kontaktiert|nerv|nerven sie|nervt) mich nicht mehr ",
            r" (?:hor|hore|horen sie|hort) auf (?:mir |mich )?(?:zu schreiben|zu kontaktieren|nachrichten zu schicken|mir zu schreiben|mich zu kontaktieren)",
            r" melden sie mich ab ", r" melde mich ab ", r" keine (?:weiteren )?nachrichten mehr ",
            r" lass(?:en sie| mich| uns)? (?:mich )?in ruhe ", r" von (?:der|ihrer|eurer|deiner) liste ", r" austragen ",
        ],
        "it": [
            r" smett(?:i|ila|ete|etela|etele) di (?:scrivermi|contattarmi|mandarmi|messaggiarmi|disturbarmi|cercarmi)",
            r" (?:toglietemi|rimuovetemi|cancellatemi|toglimi|rimuovimi|cancellami) da(?:lla|lle|i|l)? (?:vostra |tua )?(?:lista|liste|mailing list|newsletter)",
            r" rimuovetemi ", r" cancellatemi ",
            r" smetti(?:la)? di (?:scrivermi|contattarmi|mandarmi)", r" smettete di (?:scrivermi|contattarmi|mandarmi)",
            r" non (?:scrivermi|contattarmi|mandarmi|scrivetemi|contattatemi|mi scrivete|mi scrivere) piu ",
            r" non voglio piu (?:ricevere|messaggi)", r" cancellami ", r" (?:toglimi|rimuovimi|toglietemi) dalla lista ",
            r" rimuovimi ", r" lascia(?:te)?mi in pace ", r" basta messaggi ",
        ],
    },
    "human_request": {
        "en": [
            r" (?:can|could|will|would) (?:a|an|some|any) (?:real |actual |live )?(?:human|person|people|staff member|team member|employee) "
            r"(?:answer|reply|respond|help|talk|get back|call|write|look) ",
            r" (?:is|are) (?:this|these|the|your) (?:chat|account|page|reply|replies|answer|answers|message|messages|dms|conversation|inbox|response|responses) "
            r"(?:an |a |just |even |being )?(?:automated|automatic|bot|ai|generated|run by (?:a |an )?(?:bot|ai)) ",
            # "is an actual human reading this?", "am I talking to chatgpt?", "sort it out with her directly".
            r" (?:is|are) (?:a |an |any |there a |there an |there any )?(?:real |actual |live )?(?:human|humans|person|people|someone|somebody|anyone|anybody) "
            r"(?:reading|there|here|behind|answering|replying|seeing|checking|working|in charge|on the other) ",
            r" (?:talking|speaking|chatting|texting|writing) (?:to|with) " + _A + _BOT + " ",
            r" (?:talk|speak|discuss|chat|deal|sort (?:it|this|that) out|sort out|settle|go over) (?:[a-z]+ ){0,5}(?:with|to) (?:[a-z]+ ){0,2}"
            r"(?:herself|himself|themselves|directly|personally|face to face) ",
            r" (?:talk|speak|chat) (?:directly|personally|in person) (?:to|with) ",
            r" (?:talk|speak|chat|text|speaking|talking|chatting) (?:to|with) " + _A + r"(?:real |actual |live |human |other )?"
            r"(?:human|humans|person|agent|rep|representative|manager|owner|boss|staff|someone|somebody|anyone|"
            r"team ?member|member of (?:staff|the team|your team)|employee|operator|supervisor|customer service|whoever|"
            r"sales ?person|consultant|coach|founder|team) ",
            r" (?:get|want|need|give me|put me through to|connect me (?:to|with)|transfer me to|pass me to|patch me through to|"
            r"let me talk to|get me) " + _A + r"(?:real |actual |live )?(?:human|person|agent|rep|representative|manager|"
            r"supervisor|boss|owner|operator) ",
            r" (?:are|r) (?:you|u|ya) (?:a |an |even |just )?(?:bot|robot|ai|a i|machine|real|human|person|automated|chat ?bot|computer|"
            r"program|automatic) ",
            r" (?:is|iz) (?:this|dis) (?:a |an |even |just )?(?:bot|robot|ai|a i|automated|real person|real human|human|person|"
            r"chat ?bot|machine|auto ?reply|automatic|computer|program) ",
            r" (?:is|are) (?:it|that|these|those) (?:a |an |just )?(?:bot|robot|ai|chat ?bot|automated|auto ?repl)",
            r" am i (?:talking|speaking|chatting|texting) (?:to|with) " + _A + r"(?:bot|robot|ai|machine|real|human|person|computer) ",
            r" (?:contact|reach|get|need|want|call|talk to|speak to) " + _A + r"customer (?:service|support|care) ",
            r" (?:contact|reach|get|need|want|call|talk to|speak to) " + _A + r"(?:support|service) (?:team|agent|rep|department|desk) ",
            r" customer (?:service|care|support) (?:please|pls|now|number|line|agent) ",
            r" (?:please|pls|plz|can you|could you|would you|can someone|could someone|can somebody|could somebody|can anyone|"
            r"someone) (?:please |pls )?(?:call|phone|ring) me ", r" call me (?:back|asap|now|today|tomorrow|please|pls|right now|when|later|tonight) ",
            r" give me a (?:call|ring) ", r" transfer me ", r" escalate ", r" (?:your|ur) (?:manager|boss|supervisor|owner|team lead|superior) ",
            r" not (?:a |another |talking to a |talk to a )?(?:bot|robot|ai|machine) ", r" (?:stop|enough|done) (?:with )?(?:the |this |ur |your )?bot ",
            r" no (?:more )?(?:bots|robots|ai|bot) ", r" operator ", r" whoever (?:runs|manages|owns|is in charge|handles|is behind) ",
            r" (?:someone|somebody|a person|a human) (?:from|on) (?:the|your|ur|this) (?:team|staff|office|company|store|studio|business|account) ",
            r" (?:someone|somebody) (?:in charge|responsible|real|human) ", r" (?:is|are) (?:there|anyone|anybody) (?:a |any )?(?:real |actual )?"
            r"(?:human|person|one|anyone|anybody) (?:there|here|behind|reading|working|out there|in charge|home) ",
            r" (?:a|an) (?:real|actual|live) (?:human|person) (?:please|pls|plz|now) ", r" human (?:please|pls|plz|now|agent) ",
            r" (?:bot|robot|ai|automated|canned) (?:replies|reply|answers|responses|messages) ", r" talking to a wall ",
            r" (?:want|need|prefer) (?:to (?:talk|speak) (?:to|with) )?(?:a |an )?(?:real|actual|live) (?:human|person|agent) ",
            r" (?:is|are) (?:you|u|this) (?:a |an )?(?:real|actual) (?:human|person) ",
        ],
        "es": [
            r" (?:me )?(?:atiende|contesta|responde|lee|escribe|habla) (?:alguien|una persona|un humano)(?: de verdad| real)? ", r" (?:alguien|persona|humano) de verdad ",
            r" hablar con (?:una |un |alguien|el |la |tu |su |algun |alguna |algun |una persona |alguien del |alguien de )?"
            r"(?:persona|humano|agente|asesor|asesora|encargado|encargada|gerente|responsable|alguien|dueno|duena|jefe|jefa|"
            r"supervisor|operador|representante|equipo|empleado|vendedor|real)",
            r" (?:eres|sos|estoy hablando con|hablo con) (?:un |una )?(?:bot|robot|maquina|ia|inteligencia artificial|persona real|humano|contestador)",
            r" es (?:un |una )(?:bot|robot|maquina|contestador) ", r" (?:un|una) humano ", r" llam(?:a|e)me ", r" me (?:pueden|puedes|podrian|podes|podria|puede) llamar ",
            r" (?:atencion|servicio) al cliente ", r" (?:pasame|pasenme|comunicame|comuniquenme) con ", r" quiero (?:un|una) (?:persona|humano|agente|asesor|asesora) ",
            r" alguien (?:del|de tu|de su|de vuestro) equipo ", r" quien (?:maneja|lleva|administra|gestiona) (?:esta|la|la) cuenta ",
            r" (?:tu|su) (?:jefe|jefa|gerente|supervisor|encargado|encargada) ",
        ],
        "pt": [
            r" falar com (?:um |uma |alguem|o |a |seu |sua |algum |alguma |uma pessoa |alguem da )?(?:pessoa|humano|atendente|agente|alguem|"
            r"gerente|responsavel|dono|dona|chefe|supervisor|operador|representante|equipe|funcionario|consultor|consultora|real)",
            r" (?:voce e|vc e|voce eh|vc eh|estou falando com|to falando com) (?:um |uma )?(?:bot|robo|maquina|ia|pessoa real|humano|robozinho)",
            r" (?:e|eh) (?:um|uma) (?:bot|robo|maquina|robozinho) ", r" me (?:liga|ligue|liguem) ", r" (?:pode|podem|poderia) me ligar ", r" atendimento (?:humano|ao cliente) ",
            r" (?:com|quero|chamar|chama|preciso de) (?:um |uma |o |a )?atendente ", r" quero (?:um|uma) (?:pessoa|humano) ",
            r" alguem da (?:equipe|empresa|loja) ", r" quem (?:cuida|gerencia|administra) (?:dessa|desta|da) (?:conta|pagina) ",
            r" (?:seu|sua) (?:gerente|chefe|supervisor|supervisora) ",
        ],
        "fr": [
            r" (?:pouvez vous|peux tu|vous pouvez|tu peux|pourriez vous|pourrais tu|merci de|vous pourriez) (?:me |m )(?:appeler|rappeler|telephoner) ",
            r" parler (?:a|avec) (?:un |une |quelqu un|le |la |votre |ton |ta |un vrai |une vraie |quelqu un de )?(?:humain|personne|conseiller|"
            r"conseillere|agent|responsable|quelqu un|gerant|gerante|manager|patron|patronne|proprietaire|equipe|vendeur|operateur|"
            r"service client|vrai|vraie)",
            r" (?:etes vous|es tu|c est|tu es|vous etes|je parle a|je parle avec|suis je en train de parler a) (?:un |une )?"
            r"(?:bot|robot|ia|machine|vraie personne|vrai humain|humain|intelligence artificielle|repondeur)",
r" (?:appelez|rappelez|appelle|rappelle) moi ",
            r" (?:pouvez vous|peux tu|vous pouvez|tu peux|pourriez vous) m (?:appeler|rappeler|telephoner) ", r" service client ",
            r" un humain ", r" quelqu un de (?:l equipe|votre equipe|la boutique) ", r" qui gere (?:ce|le) compte ",
            r" passez moi ", r" (?:votre|ton) (?:responsable|patron|manager|superieur) ",
        ],
        "de": [
            r" mit (?:[a-z]+ ){0,4}(?:mensch|menschen|person|mitarbeiter|mitarbeiterin|berater|beraterin|agenten|manager|chef|"
            r"chefin|inhaber|inhaberin|verantwortlichen|jemandem|jemand|kundenservice|support|team|vorgesetzten)(?: [a-z]+){0,4} "
            r"(?:sprechen|reden|telefonieren|verbinden|schreiben) ",
            r" (?:bist du|sind sie|ist das|bin ich mit) (?:ein |eine |einem |einer )?(?:bot|roboter|ki|maschine|mensch|echte person|chatbot|computer)",
            r" (?:eine|einer|einen|mit einer|mit einem) echte(?:r|n)? (?:person|mensch)", r" (?:rufen sie|ruf|ruft|kann mich jemand|konnen sie mich) (?:mich )?(?:bitte )?(?:zuruck|an|anrufen) ",
            r" kundenservice ", r" kundendienst ", r" einen menschen ", r" wer (?:betreibt|verwaltet|betreut) (?:diesen|den) (?:account|kanal) ",
            r" verbinden sie mich ", r" (?:ihr|ihren|dein|deinen) (?:chef|vorgesetzten|manager) ",
        ],
        "it": [
            r" (?:mi )?(?:puoi|potete|puo|potreste|potresti|potrebbe) (?:chiamar|richiamar|telefonar|ricontattar)(?:mi)? ", r" (?:richiamatemi|chiamatemi|richiamami|telefonatemi) ",
            r" parlare con (?:un |una |qualcuno|il |la |un vero |una vera |il vostro |la vostra |qualcuno del )?(?:persona|umano|operatore|"
            r"operatrice|agente|qualcuno|responsabile|titolare|proprietario|manager|capo|consulente|team|assistenza|vero|vera)",
            r" (?:sei|siete|sto parlando con|parlo con) (?:un |una )?(?:bot|robot|ia|macchina|persona vera|persona reale|umano|risponditore)",
            r" e (?:un |una )(?:bot|robot|macchina|risponditore) ", r" chiamami ", r" mi (?:puoi|potete|puo|potreste) (?:chiamare|telefonare) ",
            r" (?:servizio|assistenza) clienti ", r" un operatore ", r" qualcuno del (?:team|vostro team|negozio|vostro staff) ",
            r" chi gestisce (?:questo|il) (?:account|profilo) ", r" passami ", r" (?:il tuo|il vostro) (?:capo|responsabile|manager) ",
        ],
    },
    "injection": {
        "en": [
            # The rules the assistant itself follows ("summarize the rules you follow when replying").
            r" (?:rules|instructions|guidelines|directives|prompt) (?:that |which )?(?:do |did |must |have to )?(?:you|u) (?:follow|obey|operate under|run on|stick to|abide by) ",
            # Ignoring or forgetting what the assistant was told, whatever it is called.
            r" (?:ignore|disregard|forget|override|bypass|drop|scrap|throw out|abandon) (?:all |any |the |your |my |every |of |everything |anything |that |whatever )*"
            r"(?:previous |prior |above |earlier |preceding |original |initial |system |old |existing |safety |current |standing |internal )*"
            r"(?:guidance|orders|training|setup|configuration|briefing|commands|policies|programming|script|instructions|rules|prompt|directions)",
            r" (?:ignore|disregard|forget) (?:everything|anything|all|whatever|what) (?:you (?:were|ve been|have been|got|are|re) (?:told|given|taught|instructed|programmed)|"
            r"(?:that |which )?(?:was|were|is|came) (?:said |written |told )?(?:before|above|earlier)|above|before|previous|prior|so far) ",
            # Which instructions it was given; the text before the conversation, however it is named.
            r" (?:instructions|rules|prompt|guidelines|directives|orders|briefing|directions) (?:were |have |had |did |do )?(?:you|u) (?:been )?"
            r"(?:given|received|get|got|told|receive|programmed with|following|working from)",
            r" (?:text|words|message|messages|everything|anything|stuff|content|lines|instructions) (?:that |which )?(?:was |were |is |are |came |comes |appears |appeared |sits )?"
            r"(?:written |given |sent |put |placed |shown |typed )?(?:before|above|prior to|ahead of) (?:this|my|that|the conversation|our conversation|this chat|this conversation|you|the chat) ",
            # Reveal requests with words between the verb and the target ("repeat the first line of your instructions").
            r" (?:print|show|reveal|repeat|output|display|tell|give|send|paste|share|leak|list|copy|dump|summari[sz]e|translate|spell out|quote|write out|recite|expose|"
            r"type out|read out) (?:me |us |out )?(?:[a-z]+ ){0,4}(?:your|ur) (?:(?:exact|full|entire|complete|secret|hidden|internal|initial|original|system|first|actual|real|"
            r"underlying|whole|own|private|confidential|current|custom|base|core) )*(?:prompt|prompts|instructions|rules|guidelines|programming|configuration|config|"
            r"directives|system message|briefing|setup) ",
            # A role block announced in words: "message from management:", "note to the AI from the developer", "updated policy for the assistant".
            r" (?:message|note|notice|memo|update|instruction|instructions|directive|order|orders|word|announcement) from (?:the |your |our )?(?:management|manager|owner|boss|"
            r"admin|administrator|admins|developer|developers|dev|devs|headquarters|hq|head office|corporate|creator|creators|openai|anthropic|operator|system) ",
            r" (?:note|message|instructions?|memo|reminder|update|notice|order|directive) (?:to|for) (?:the |this |our )?(?:ai|assistant|bot|chatbot|model|llm|gpt|agent|language model) ",
            r" (?:new|updated|revised|latest|changed|current) (?:rule|rules|policy|policies|instruction|instructions|guideline|guidelines|directive|directives|prompt) (?:for|to) "
            r"(?:you|the assistant|the bot|the ai|this bot|the model|the chatbot|assistants|bots|ai|this assistant|the agent) ",
            r" (?:ignore|disregard|forget|override|bypass|skip|drop) (?:all |any |the |your |every |of )*(?:previous |prior |above |earlier |"
            r"preceding |original |initial |system |old |existing |safety |current )*(?:instructions|instruction|rules|prompts?|directions|"
            r"messages|guidelines|programming|directives|constraints|restrictions|filters|context)",
            # "Your" rules are the assistant's; "the" rules may be a challenge's or the studio's ("tell me the
            # rules of the challenge", "send me the aftercare instructions"): with "the", only words that name
            # a prompt, or rules said to be hidden, internal or the system's.
            r" (?:print|show|reveal|repeat|output|display|tell|give|send|paste|share|leak|list|copy|dump|summari[sz]e|translate|spell out|"
            r"quote|write out|recite|expose|explain) (?:me |us |out )?(?:all )?(?:of )?(?:your|ur) "
            r"(?:exact |full |entire |complete |secret |hidden |internal |initial |original |system |first |actual |real |underlying |whole )*"
            r"(?:prompt|prompts|instructions|guidelines|rules|programming|configuration|directives|system message|setup|message above|"
            r"text above|context|policies|briefing)",
            r" (?:print|show|reveal|repeat|output|display|tell|give|send|paste|share|leak|list|copy|dump|summari[sz]e|translate|spell out|"
            r"quote|write out|recite|expose|explain) (?:me |us |out )?(?:all )?(?:of )?(?:the|these|those|every|any|exact|full) "
            r"(?:exact |full |entire |complete |secret |hidden |internal |initial |original |system |first |actual |real |underlying |whole )*"
            r"(?:prompt|prompts|programming|configuration|directives|system message|message above|text above|briefing)",
            r" (?:print|show|reveal|repeat|output|display|tell|give|send|paste|share|leak|list|copy|dump|summari[sz]e|translate|spell out|"
            r"quote|write out|recite|expose|explain) (?:me |us |out )?(?:all )?(?:of )?(?:the|these|those|every|any) "
            r"(?:(?:exact|full|entire|complete|first|actual|real|whole) )*(?:secret|hidden|internal|initial|original|system|underlying|"
            r"confidential|private) (?:instructions|guidelines|rules|setup|context|policies)",
            r" (?:what|which) (?:are|were|is) (?:your|ur|the) (?:exact |full |secret |hidden |internal |initial |original |system )*"
            r"(?:prompt|instructions|guidelines|rules|programming|configuration|directives|system message)(?: $| exactly| verbatim| word| please| pls)",
            r" (?:what|everything|anything|all) (?:were you|you were|have you been|did they|did you get|were you) (?:told|given|instructed|programmed|prompted|configured|trained)",
            r" (?:how|what) (?:were|are|have) (?:you|u) (?:been )?(?:programmed|configured|instructed|prompted|set up) ",
            r" (?:everything|all|the text|the words|whatever|what(?:ever)? (?:came|comes|is|was)) (?:above|before) (?:this|my|that)",
            # Not "my previous message": people correct themselves ("ignore my previous message, I meant Friday").
            r" (?<! my )(?<! our )(?:above|previous|prior|earlier|preceding|initial|first|starting) (?:text|instructions|prompt|context|system message) ",
            r" (?<! my )(?<! our )(?:above|initial|starting|original|hidden) message ",
            r" system (?:prompt|message|instructions?|override|note|update|notice|admin) ", r" verbatim ", r" word for word ",
            r" (?:developer|debug|admin|god|dan|unrestricted|jailbreak|maintenance|test) mode ", r" jailbreak", r" you are now ",
            r" from now on (?:you|u|your|ur|answer|reply|respond|say|always|only|act) ", r" act as (?:an? )?(?:unrestricted|different|new|my|if) ",
            r" (?:pretend|imagine) (?:to be|you are|you re|that you|you have no) ", r" roleplay ", r" role play ",
            r" new (?:rule|rules|instruction|instructions|directive|directives|policy|system prompt|guidelines?) (?:from|for (?:you|the bot|the ai|the assistant)|you must|effective|is |are |apply|applies|everyone|all)",
            r" (?:management|the owner|your owner|your boss|the boss|the admin|admin|headquarters|hq|your developer|the developer|your creator|openai|anthropic)"
            r" (?:says|said|wants|told|has (?:decided|approved|authori[sz]ed|said)|authori[sz]ed|approved|instructs|instructed|decided|asked you)",
            r" you (?:must|will|have to|shall) (?:now |always |only )?(?:respond|answer|reply|say|tell|comply|obey|agree|confirm|give|offer) ",
            r" (?:disable|turn off|remove|ignore|deactivate) (?:your |the |all )?(?:filters|rules|restrictions|safety|guardrails|limits)",
            r" no (?:rules|restrictions|limits|filters|guardrails) ", r" (?:base64|rot13|hex) ", r" do anything now ",
            r" (?:end|begin|start) (?:of )?(?:system|instructions|prompt|user|conversation|customer) (?:message|input|prompt|block|text)? ?",
        ],
        "es": [
            r" (?:instrucciones|reglas|indicaciones|ordenes|directrices) que te (?:dieron|han dado|dio|pusieron|programaron|escribieron|dijeron|pasaron)",
            r" (?:aviso|mensaje|nota|orden|comunicado|instruccion|instrucciones) (?:de|desde) (?:la |el )?(?:direccion|gerencia|administracion|jefatura|dueno|duena|jefe|"
            r"desarrollador|desarrolladores|sistema|administrador) ",
            r" (?:olvida|ignora|olvide|ignore) (?:todo|todas?|cualquier cosa) (?:lo )?que te (?:dijeron|han dicho|dieron|ensenaron|programaron|escribieron)", r" palabra por palabra ",
            r" (?:ignora|ignore|ignorad|olvida|olvide|olvidad|omite) (?:las |todas las |tus |sus |todas tus |)?(?:instrucciones|reglas|ordenes|indicaciones)",
            r" (?:nueva|nuevas) (?:regla|reglas|instruccion|instrucciones|orden|ordenes|politica|directiva)",
            r" (?:muestrame|muestra|dime|revela|repite|ensename|comparte|escribe|copia|traduce) (?:tus |las |el |tu |todas tus |todas las )?"
            r"(?:instrucciones|reglas|prompt|indicaciones|mensaje del sistema|directrices|configuracion)",
            r" (?:prompt|mensaje) del sistema ", r" modo (?:desarrollador|dios|sin restricciones|debug) ",
            r" a partir de ahora (?:eres|seras|responde|respondes|debes|vas a|di|dices) ", r" finge (?:que|ser) ", r" actua como ",
            r" (?:de parte de|ordenes de|orden de) (?:la )?(?:gerencia|direccion|administracion|jefatura|dueno) ",
            r" (?:la gerencia|la direccion|el dueno|tu jefe) (?:dice|dijo|autorizo|aprobo|ordena|quiere) ",
            r" que (?:te dijeron|instrucciones tienes|reglas tienes) ",
        ],
        "pt": [
            r" (?:mostra|mostre|diz|diga|revela|revele|passa|passe|copia|copie) (?:me |nos )?(?:as |os |o |a )?(?:tuas|suas|teus|seus|tua|sua|teu|seu) "
            r"(?:instrucoes|regras|diretrizes|prompt|configuracao|ordens)",
            r" (?:esqueca|esquece|ignore|ignora|desconsidere|desconsidera) (?:tudo|todas?|qualquer coisa) (?:o |as |os )?(?:que |coisas que )?(?:te |lhe )?"
            r"(?:falaram|disseram|mandaram|ensinaram|instruiram|deram|passaram)",
            r" (?:instrucoes|regras|ordens|diretrizes) que (?:voce|vc|tu|te) (?:recebeu|recebeste|deram|passaram|tem|segue|foram dadas)",
            r" (?:aviso|mensagem|recado|ordem|comunicado) (?:da|do) (?:gerencia|diretoria|administracao|dono|chefe|desenvolvedor|sistema) ", r" palavra por palavra ",
            r" (?:ignore|ignora|esqueca|esquece|desconsidere) (?:as |todas as |suas |tuas )?(?:instrucoes|regras|ordens|diretrizes)",
            r" (?:nova|novas) (?:regra|regras|instrucao|instrucoes|ordem|ordens|politica|diretriz)",
            r" (?:mostre|mostra|me mostre|me mostra|diga|revele|repita|me diga|compartilhe|copie|traduza) (?:suas |as |o |seu |todas as )?"
            r"(?:instrucoes|regras|prompt|diretrizes|mensagem do sistema|configuracao)",
            r" (?:prompt|mensagem) do sistema ", r" modo (?:desenvolvedor|deus|sem restricoes|debug) ",
            r" a partir de agora (?:voce e|voce sera|vc e|responda|diga|voce deve|vai) ", r" finja (?:que|ser) ", r" aja como ",
            r" (?:a gerencia|a diretoria|a administracao|o dono|seu chefe) (?:disse|diz|autorizou|aprovou|mandou|quer) ",
            r" (?:ordem|ordens) da (?:gerencia|diretoria|administracao) ", r" o que (?:te disseram|te instruiram) ",
        ],
        "fr": [
            r" (?:instructions|regles|consignes|directives) qu on (?:t a|vous a) (?:donnees?|dites?|fixees?|imposees?|ecrites?)", r" qu on (?:t a|vous a) (?:dit|donne|demande|programme) ",
            r" (?:oublie|ignore|oubliez|ignorez) (?:tout|tout ce) (?:qu on|que l on|ce qu on|qui) (?:t a|vous a|a ete) (?:dit|donne|ecrit|appris)",
            r" (?:message|note|consigne|ordre|annonce) de (?:la direction|la gerance|l administration|du patron|du proprietaire|du developpeur|du systeme) ", r" mot pour mot ",
            r" (?:ignore[sz]?|oublie[sz]?|ne tiens pas compte) (?:de )?(?:les |toutes les |tes |vos |toutes tes |toutes vos )?(?:instructions|regles|consignes|directives)",
            r" (?:nouvelle|nouvelles) (?:regle|regles|instruction|instructions|consigne|consignes|politique|directive)",
            r" (?:montre|montrez|donne|donnez|revele|revelez|repete|repetez|affiche|affichez|dis|dites|copie|traduis|recite) (?:moi |nous )?"
            r"(?:tes |vos |les |ton |votre |toutes tes |toutes vos )?(?:instructions|regles|consignes|prompt|directives|message systeme|configuration)",
            r" prompt (?:systeme|du systeme) ", r" message (?:systeme|du systeme) ", r" mode (?:developpeur|dieu|sans restriction|debug) ",
            r" a partir de maintenant (?:tu es|vous etes|tu seras|reponds|repondez|dis|dites|tu dois) ", r" fais semblant ", r" agis comme ",
            r" (?:la direction|le patron|le proprietaire|ton patron) (?:dit|a dit|a autorise|a approuve|veut|ordonne) ",
            r" de la part de la direction ", r" qu est ce qu on t a dit ",
        ],
        "de": [
            r" alles(?: was| das)? (?:man |wir |sie |ich )?(?:dir|ihnen|euch) (?:[a-z]+ ){0,2}(?:gesagt|erzahlt|gegeben|befohlen|aufgetragen|beigebracht|vorgegeben)",
            r" (?:welche|was fur) (?:anweisungen|regeln|vorgaben|instruktionen|befehle|richtlinien) (?:hast du|haben sie|hat man dir|wurden dir|wurde dir|bekommst du|befolgst du)",
            r" (?:nachricht|hinweis|anweisung|mitteilung|notiz) (?:von|der|vom) (?:der |dem )?(?:geschaftsleitung|geschaftsfuhrung|chef|inhaber|management|entwickler|admin|system)",
            r" wortlich ",
            r" (?:ignoriere|ignorier|vergiss|missachte) (?:alle |die |deine |ihre |alle deine |alle vorherigen |die vorherigen |vorherige )*"
            r"(?:anweisungen|regeln|vorgaben|instruktionen|befehle)",
            r" neue (?:regel|regeln|anweisung|anweisungen|vorgabe|vorgaben|richtlinie)",
            r" (?:zeig|zeige|nenne|verrate|wiederhole|gib|schreib|kopiere|ubersetze) (?:mir |uns )?(?:deine|ihre|die|alle|deinen|ihren) "
            r"(?:anweisungen|regeln|vorgaben|prompt|systemprompt|systemnachricht|instruktionen|konfiguration)",
            r" system ?prompt", r" systemnachricht ", r" entwicklermodus ", r" ab (?:jetzt|sofort) (?:bist du|bist|antwortest du|sagst du|musst du|antworte|sag) ",
            r" tu so als ", r" gib vor ", r" (?:die geschaftsleitung|die geschaftsfuhrung|der chef|der inhaber|dein chef) "
            r"(?:sagt|hat gesagt|hat genehmigt|will|mochte|erlaubt) ", r" was (?:wurde dir gesagt|sind deine anweisungen) ",
        ],
        "it": [
            r" (?:quello|cio|tutto quello|tutto cio) che ti (?:hanno|ha|avevano) (?:detto|dato|scritto|insegnato|istruito|ordinato)",
            r" (?:istruzioni|regole|direttive|indicazioni) (?:che )?(?:ti hanno dato|hai ricevuto|ti sono state date|segui)",
            r" (?:messaggio|nota|avviso|comunicazione|ordine) (?:dalla|della|dal|del) (?:direzione|titolare|capo|gestione|sviluppatore|amministrazione|sistema) ", r" parola per parola ",
            r" (?:ignora|ignorate|dimentica|dimenticate) (?:le |tutte le |tue |le tue |tutte )?(?:istruzioni|regole|direttive|indicazioni)",
            r" (?:nuova|nuove) (?:regola|regole|istruzione|istruzioni|direttiva|direttive|politica)",
            r" (?:mostrami|dimmi|rivela|ripeti|condividi|scrivi|copia|traduci) (?:le |tue |il tuo |il |le tue |tutte le )?"
            r"(?:istruzioni|regole|prompt|direttive|messaggio di sistema|configurazione)",
            r" prompt di sistema ", r" messaggio di sistema ", r" modalita (?:sviluppatore|dio|senza restrizioni|debug) ",
            r" da (?:ora|adesso) in poi (?:sei|rispondi|devi|dirai|di) ", r" fai finta ", r" comportati come ",
            r" (?:la direzione|il titolare|il capo|il tuo capo) (?:dice|ha detto|ha autorizzato|ha approvato|vuole) ",
            r" dalla direzione ", r" cosa ti hanno detto ",
        ],
    },
}

# A word alone (or with a filler or two) that says the category, and means nothing else as a whole message.
ALONE = {
    "opt_out": {"stop", "stopall", "unsubscribe", "unsub", "optout", "opt out", "remove", "remove me", "baja", "parar", "alto",
                "arret", "arreter", "desabonner", "desinscrire", "stopp", "abmelden", "austragen", "pare", "sair", "chega",
                "basta", "disiscrivimi", "cancellami", "descadastrar", "end", "quit"},
    "human_request": {"human", "humans", "a human", "person", "a person", "real person", "agent", "an agent", "representative",
                      "rep", "operator", "manager", "customer service", "support", "humano", "persona", "una persona",
                      "persona real", "asesor", "humain", "un humain", "conseiller", "mensch", "ein mensch", "mitarbeiter",
                      "umano", "operatore", "atendente", "pessoa", "uma pessoa", "hello human", "hello someone", "anyone there",
                      "anybody there", "someone", "somebody", "bot", "robot", "ai", "a bot", "a robot", "an ai", "is this ai",
                      "real human", "live agent", "live person"},
}
FILLERS = {"please", "pls", "plz", "now", "it", "thanks", "thank", "you", "all", "por", "favor", "svp", "bitte", "jetzt",
            "per", "grazie", "obrigado", "obrigada", "merci", "gracias", "ya", "ok", "okay", "just", "hello", "hi", "hey",
            "hola", "ola", "oi", "ciao", "bonjour", "hallo", "sir", "maam", "agora", "ahora", "maintenant", "subito"}

# Markup of chat formats and fake role blocks, checked on the raw (skeleton) text: words() drops the brackets.
MARKUP_INJECTION = re.compile(
    r"<\s*/?\s*(?:system|assistant|user|instructions?|prompt|context|dm|customer|customer_message|sidekick|admin|developer|"
    r"tool|function|im_start|im_end|s|inst)\b[^>]{0,60}>"
    r"|\[\s*/?\s*(?:system|inst|assistant|admin|developer|sys)\s*\]"
    r"|<\|[^|>]{0,40}\|>"
    r"|(?:^|\n)\s*(?:#{1,6}\s*)?(?:system|assistant|developer|admin|instructions?)\s*(?:message|prompt|note)?\s*:"
    r"|```\s*(?:system|instructions?|prompt)"
    r"|(?:^|\n)\s*#{1,6}\s*(?:system|assistant|developer|admin|instructions?)\b"  # a Markdown heading naming a role
    r"|(?:^|\n)\s*#{1,6}\s*new\s+(?:instructions?|rules?|prompt|policy)\b",
    re.I,
)


# Broader classes, found by screening phrasings written after the golden cases (held out): the way
# people circle around the thing rather than name it. Merged into PATTERNS below.
_WIDER: dict[str, dict[str, list[str]]] = {
    "crisis": {
        "en": [
            r" (?:no|see a|see any|any|find a|find any) reason to (?:keep going|go on|live|stay alive|be here|carry on) ",
            r" (?:done|finished|through) with (?:life|living|everything|it all) ", r" (?:better|happier) (?:off )?without me ",
            r" (?:not|isn t|isnt|won t|wont) (?:waking up|wake up|responding|moving) ", r" hit (?:her|his|their|my) head ",
            r" (?:end|ending) it (?:tonight|today|all|now|soon|for good|this week) ",
            r" bleeding (?:really |so |very |quite |pretty )?(?:bad|badly|a lot|heavily|everywhere|non ?stop) ", r" (?:bleeding|blood) .{0,30}(?:dizzy|faint|pale) ",
            r" (?:he|she|they|my [a-z]+) (?:hit|hits|beat|beats|strangled|strangles|choked|chokes|kicked|kicks|punched|punches|slapped|slaps|raped|attacked) me ",
            r" (?:nobody|no one|noone) (?:would|will) (?:miss|notice|care)(?: me| if i)", r" (?:miss|notice) me (?:if|when) i (?:m|was|am|were) gone ",
            r" (?:want|wish|need) (?:it|this|everything) (?:all )?to (?:end|stop|be over)", r" can t (?:take|do|handle|bear) (?:it|this) any ?more ",
            r" (?:been|started|keep|kept|am|m) cutting (?:again|myself|my (?:arms|wrists|legs))", r" cutting again ",
            r" (?:chest|heart) (?:hurts|is hurting|pain|pressure|feels tight|is tight)", r" (?:arm|face|side) (?:is |feels |went |goes )?numb ",
            r" (?:hit|hits|beat|beats|choked|chokes|kicked|kicks|slapped|slaps|hurt|hurts|punched|punches) me (?:again|every|when|and|so|last)",
            r" (?:scared|afraid|terrified) (?:of (?:him|her|my (?:husband|boyfriend|partner|dad|father|ex|wife|girlfriend))|to go home|for my life)",
            r" (?:no point|no reason) (?:in )?(?:living|going on|being alive|to go on) ", r" (?:give|giving) up on (?:life|living|everything) ",
            r" (?:disappear|go away|sleep) (?:forever|and never wake up) ", r" not want to wake up ", r" (?:don t|do not|dont) want to wake up ",
        ],
        "es": [r" ganas de morir", r" (?:me quiero|quiero|voy a) (?:morir|matar)", r" (?:ya )?no (?:aguanto|puedo) mas (?:con esto|con mi vida|vivir)",
               r" (?:nadie|ninguno) me (?:va a |)extranar", r" me (?:corto|estoy cortando|volvi a cortar)", r" me (?:pego|golpeo|pega|golpea) (?:otra vez|de nuevo)",
               r" miedo (?:de (?:el|ella|mi (?:pareja|marido|esposo|novio))|de volver a casa)", r" me duele (?:mucho )?el pecho "],
        "pt": [r" vontade de morrer", r" (?:nao aguento|nao suporto) mais ", r" ninguem (?:vai|iria) sentir (?:a )?minha falta", r" me cortando (?:de novo|outra vez)",
               r" me (?:bateu|bate) (?:de novo|outra vez)", r" medo (?:dele|dela|do meu (?:marido|namorado)|de voltar pra casa)", r" (?:meu )?peito (?:doi|dói|apertado)"],
        "fr": [r" (?:en danger|pas en securite) (?:chez moi|a la maison|avec (?:lui|elle))", r" (?:je )?(?:ne )?veux (?:plus|pas) vivre ", r" me (?:suicider|tuer|foutre en l air) ", r" envie d en finir", r" (?:je n en peux|j en peux) plus ", r" personne ne (?:me regrettera|remarquerait)", r" (?:je me|me) (?:mutile|scarifie|coupe) (?:encore|a nouveau)",
               r" il m a (?:encore )?(?:frappe|battue?|etrangle)", r" peur de (?:lui|rentrer chez moi|mon mari|mon copain)", r" mal (?:a la|dans la) poitrine "],
        "de": [r" angst,? (?:dass|das) (?:er|sie) mich ", r" (?:schlagt|schlug|geschlagen|verletzt) mich ", r" mich (?:umzubringen|zu toten|umbringen) ", r" (?:mir|mich) (?:was|etwas) antun ", r" (?:will|mochte) nicht mehr (?:leben|aufwachen)", r" halte (?:es|das) nicht mehr aus ",
               r" niemand (?:wurde|wird) mich vermissen", r" ritze mich (?:wieder|schon)", r" (?:er|sie) hat mich (?:wieder |schon wieder )?geschlagen",
               r" angst vor (?:ihm|ihr|meinem (?:mann|freund|partner))", r" (?:brust|herz) (?:tut weh|schmerzt|sticht)"],
        "it": [r" (?:mi voglio|voglio|vorrei) (?:ammazzare|uccidere|suicidare)", r" (?:ammazzarmi|uccidermi|suicidarmi) ", r" voglio morire", r" non ce la faccio piu ", r" nessuno (?:sentirebbe|sentira) la mia mancanza", r" mi taglio (?:ancora|di nuovo)",
               r" mi ha (?:picchiata?|colpita?) (?:ancora|di nuovo)", r" paura di (?:lui|tornare a casa|mio marito)", r" dolore al petto "],
    },
    "threat": {
        "en": [r" (?:hurt|kill|stab|shoot|attack) (?:someone|somebody|people|everyone|anyone|your (?:staff|team|owner|boss|kids|family)) ",
               r" (?:come|coming|show up|showing up|go|going) (?:to|at|down to|round to|over to) (?:your|ur|the) (?:studio|shop|store|place|office|gym|salon|house|home) and ",
               r" (?:you|u) (?:better|d better) watch (?:out|yourself|your back) ", r" i know where (?:your|ur) (?:studio|shop|store|place|office|gym|salon|house|home|family|kids) ",
               r" (?:make|making) (?:you|u) pay for (?:this|it)", r" (?:you|u)(?: ll| will|ll) pay for (?:this|it) ",
               r" (?:get|getting) what s coming (?:to you|to ya|to u)", r" (?:you|u)(?: ll| will|ll) be sorry ",
               r" (?:wait|waiting) (?:for you |for u )?(?:outside|in front of|by|at) (?:your|ur|the) (?:studio|shop|store|place|office|gym|salon|house|home|car)", r" (?:you|u)(?: re| are|re) (?:gonna|going to) get (?:hurt|it|yours) "],
        "es": [r" (?:dar|doy|voy a dar) (?:una )?paliza", r" se donde (?:vive|vives|viven|vivis|trabaja|trabajas|estudia) ", r" romper(?:te)? (?:todo|la cara|el local)", r" me las vas a pagar", r" vas a ver lo que (?:te pasa|pasa)", r" (?:ir|voy) a (?:tu|su) (?:local|negocio|tienda|casa) a "],
        "pt": [r" te (?:bater|arrebentar|espancar) ", r" quebrar (?:tudo|sua cara|a loja)", r" (?:vai|vao) me pagar", r" (?:vou|vamos) (?:ai|la|na sua (?:loja|casa)) (?:te |pra )?(?:bater|quebrar|acabar)"],
        "fr": [r" je sais ou (?:tu|vous) (?:te gares|vous garez|habites|habitez|travailles|travaillez|vis|vivez|es|etes) ", r" (?:casser|peter) (?:la gueule|tout|la figure)", r" (?:tu vas|vous allez) me le payer", r" (?:je vais|on va) venir (?:vous|te) (?:casser|regler|frapper)"],
        "de": [r" (?:mach|mache|machen) (?:dich|euch|sie) fertig ", r" dann knallt es", r" (?:das|dafur) (?:wirst du|werden sie) (?:bezahlen|buessen|bussen)", r" (?:ich|wir) (?:komme|kommen) vorbei und (?:dann|mach|schlag)"],
        "it": [r" te la faccio pagare", r" ve la faccio pagare", r" (?:ti vengo|vi vengo) a cercare", r" spacc(?:o|are) tutto"],
    },
    "legal": {
        "en": [r" (?:erase|delete|remove|wipe) (?:my|all my) (?:info|information|details|data|number|account) ", r" (?:attorney|attorneys|lawyer|lawyers|solicitor|solicitors) (?:will|is|are|has|have|s) ", r" (?:complaint|dispute|claim) (?:with|to) (?:the |my )?(?:bank|card|credit card|paypal|visa|mastercard|ftc|authorities|regulator)",
               r" (?:delete|erase|remove|wipe) (?:everything|all|anything) (?:you have|you hold|you keep|you store|you ve got) (?:on|about) me", r" (?:copy|export|all) of (?:my|all my) (?:personal )?data ",
               r" (?:personal|my) data (?:under|according to|per) ", r" (?:file|filing|lodge|lodging) (?:a )?(?:formal )?(?:complaint|claim|report) (?:against|with|about)",
               r" (?:report|reporting) (?:you|your business|this business|this account|this|it) to ", r" consumer (?:affairs|protection|rights|council|agency|ombudsman) "],
        "es": [r" (?:un|mi|con un|a un) abogad[oa] ", r" reclamacion (?:formal|oficial)", r" (?:voy a|vamos a) (?:denunciar|reclamar) ", r" (?:ir|acudir) a (?:la )?justicia "],
        "pt": [r" entrar na justica", r" (?:vou|vamos) (?:processar|denunciar|acionar)", r" (?:um|meu) advogad"],
        "fr": [r" saisir (?:la justice|le tribunal|les tribunaux|un avocat)", r" (?:je vais|on va) (?:porter plainte|vous poursuivre|saisir)", r" (?:un|mon) avocat "],
        "de": [r" (?:werde|werden) (?:sie|dich|euch) (?:anzeigen|verklagen)", r" anzeige (?:erstatten|gegen)", r" (?:einen|meinen|mein) anwalt "],
        "it": [r" (?:mio|il mio) legale ", r" vi denuncio", r" ti denuncio", r" (?:un|il mio|mio) avvocato ", r" (?:fare|faro) (?:un )?reclamo (?:formale|ufficiale)"],
    },
    "opt_out": {
        "en": [r" (?:don t|do not|dont) want (?:these|your|those|any|any more|more|the|all these|all your) (?:messages|texts|dms|emails|notifications|promos) ",
               r" (?:unsubscribe|unsub|opt out|remove) me ", r" take me out of (?:this|your|the) (?:list|messages) "],
        "es": [r" no quiero (?:estos|tus|sus|mas) mensajes"], "pt": [r" nao quero (?:essas|suas|mais) mensagens", r" nao quero receber mais "],
        "fr": [r" je ne veux pas (?:de )?(?:ces|vos|tes) messages"], "de": [r" (?:will|mochte) (?:diese|ihre|deine|keine) nachrichten (?:nicht|mehr)"],
        "it": [r" non voglio (?:questi|i tuoi|i vostri) messaggi", r" cancella(?:te)? il mio (?:numero|contatto) "],
    },
    "human_request": {
        "en": [r" (?:is there|are there|do you have|have you got) (?:a |an |any )?(?:real|actual|live) (?:person|human|people|humans)(?: i can| to| who)",
               r" (?:put|patch|connect|transfer) me (?:through )?(?:to|with) (?:someone|somebody|a person|a human|the|your|a real)",
               r" (?:you re|youre|you are|ur|u r|this is) (?:a |an |just a |just an |obviously a |clearly a )?(?:bot|robot|ai|chatbot|machine|automated) ",
               r" (?:bot|robot|ai) (?:aren t|arent|right|huh) (?:you|u)? ?",
               r" (?:a |an )?(?:real|actual) one (?:please|pls|plz|now) ", r" who (?:am i|m i|am i even|m i even) (?:talking|speaking|chatting|texting) (?:to|with) ", r" (?:is|are) (?:anyone|anybody|someone|somebody) (?:actually |even |really )?(?:reading|there|here|listening|home) ",
               r" (?:can|could|will|would|does|do|is|will) (?:a |an |some |any |the )?(?:human|person|real person|actual person|real human|someone real) "
               r"(?:read|see|look|check|answer|reply|respond|help|get back)"],
        "es": [r" (?:hay )?alguien (?:real|de verdad) ", r" hay alguien (?:ahi|ahi real|ahi de verdad) ", r" (?:eres|es) (?:una |un )?(?:ia|maquina|robot|bot) (?:verdad|no)", r" (?:pasame|comunicame|conectame) con (?:alguien|una persona|un humano)"],
        "pt": [r" (?:chamar|chama|falar com) (?:o |a )?(?:responsavel|gerente|dono|dona|chefe) ", r" (?:voce|vc) (?:e|eh) (?:um |uma )?(?:robo|bot|ia) (?:ne|nao)", r" me (?:passa|transfere|conecta) (?:pra|para|com) (?:alguem|uma pessoa|um humano)"],
        "fr": [r" (?:veux|voudrais|aimerais|besoin d|parler a) (?:un |une )?(?:vrai|vraie|veritable) (?:humain|personne) ",
               r" (?:il y a|y a t il|y a) quelqu un (?:de reel|de vrai|qui lit) ", r" (?:tu es|vous etes|t es) (?:un |une )?(?:bot|robot|ia) (?:non|hein|c est ca)", r" (?:mettez|passez|transferez) moi (?:avec|a) (?:quelqu un|un humain)"],
        "de": [r" mit dem (?:chef|inhaber|geschaftsfuhrer|verantwortlichen) ", r" (?:du bist|sie sind) (?:ein |eine )?(?:bot|roboter|ki) (?:oder|stimmt|nicht)", r" verbinden sie mich (?:mit|bitte)"],
        "it": [r" (?:voglio|vorrei|chiamami|passami) (?:il |la )?(?:titolare|responsabile|proprietario|capo) ", r" (?:c e|ce) qualcuno (?:di reale|di vero|che legge|li) ", r" qualcuno di (?:reale|vero) ", r" (?:sei|siete) (?:un |una )?(?:bot|robot|ia) (?:vero|no)", r" (?:passami|mettimi in contatto con) (?:qualcuno|una persona|un umano)"],
    },
    "injection": {
        "de": [r" (?:deinen|ihren|den) (?:prompt|systemprompt|anweisungen) (?:posten|zeigen|schicken|kopieren|teilen)"],
        "fr": [r" ignore[sz]? (?:tout )?ce qui (?:precede|est au dessus) "],
        "en": [r" (?:admin|administrator|system|developer|root|sudo|god) (?:override|mode|command|access|instruction|message|note)s? ",
               r" override ", r" (?:approve|authorize|authorise|grant|issue) (?:the |a |my |this )?(?:refund|discount|free|credit|coupon)s? (?:now|immediately|for me)?",
               r" (?:print|show|output|repeat|copy) (?:everything|all|the text|all the text|whatever) (?:above|before|preceding) ",
               r" (?:your|ur|the) (?:original|initial|hidden|secret|system|first|internal|real) (?:instructions|prompt|rules|guidelines|directives) ",
               r" new instructions ", r" (?:ignore|disregard|forget) (?:the |all |everything |all of the )?(?:above|previous|prior|preceding|earlier) ",
               r" (?:act as|you are|be|become) dan ", r" repeat after me ", r" without (?:any )?(?:rules|restrictions|limits|filters|guardrails) ", r" pwn"],
    },
}
for _category, _by_language in _WIDER.items():
    for _code, _patterns in _by_language.items():
        PATTERNS[_category].setdefault(_code, []).extend(_patterns)

# Words that are rare in a sales or support DM and common where a person should read it (danger,
# violence, the law), in the six languages: when none of the precise phrases above caught the
# message but one of these stands in it, the reply is drafted for a person, never sent by itself.
# Common slang is left out ("dying to try", "killed it", "photo shoot", "burn calories").
SENSITIVE: dict[str, list[str]] = {
    "en": [r" suicid", r" overdos", r" unaliv", r" die ", r" dying (?!to )", r" dead (?!line)", r" death ",
           r" kill(?:s|ed|ing)? (?!it |it$|them |the (?:workout|class|game)|me (?:lol|haha|lmao|omg))", r" murder", r" bleed", r" blood ", r" unconscious",
           r" faint(?:ed|ing)? ", r" dizzy ", r" seizure", r" ambulance", r" pills ", r" swallowed ", r" (?:can t|cannot|cant|not) breath",
           r" turning blue ", r" abus(?:e|ed|ive|ing) ", r" assault", r" rape", r" strangl", r" choked me ", r" pushed me ",
           r" scared (?:of|for)", r" terrified ", r" goodbye (?:letter|letters|note|notes) ", r" gun ", r" guns ", r" knife ", r" stab",
           r" weapon", r" smash", r" revenge ", r" threat", r" find (?:you|u) ", r" lawyers? (?!friend|colleague|client)", r" attorney", r" solicitor", r" suing ",
           r" lawsuit", r" court ", r" police ", r" cops ", r" charge ?back", r" fraud", r" scam", r" gdpr ", r" ccpa ",
           r" (?:my|personal) (?:data|information) ", r" reversing (?:my |the )?(?:payment|charge)", r" trading standards "],
    "es": [r" suicid", r" sobredosis", r" morir", r" muerte ", r" muert[oa] ", r" matar", r" sangr", r" inconsciente",
           r" desmay", r" ambulancia", r" pastillas ", r" abuso", r" violencia", r" violacion", r" pistola", r" cuchillo",
           r" venganza", r" abogad", r" demanda(?:r|re|ndo) ", r" tribunal", r" policia", r" denuncia", r" estafa", r" fraude",
           r" datos personales", r" mis datos "],
    "pt": [r" suicid", r" morrer", r" morte ", r" mort[oa] ", r" matar", r" sangue", r" sangrando", r" desmai", r" ambulancia",
           r" comprimidos ", r" abuso", r" violencia", r" estupro", r" faca ", r" advogad", r" processar", r" justica",
           r" policia", r" denuncia", r" fraude", r" dados pessoais", r" meus dados "],
    "fr": [r" suicid", r" mourir", r" mort(?:e)? ", r" tuer ", r" sang ", r" saign", r" inconscient", r" evanoui",
           r" ambulance", r" comprimes ", r" somnifere", r" abus ", r" violence", r" viol ", r" couteau", r" pistolet",
           r" vengeance", r" avocat", r" tribunal", r" proces ", r" police", r" plainte", r" arnaque", r" fraude",
           r" donnees personnelles", r" mes donnees "],
    "de": [r" suizid", r" selbstmord", r" sterben", r" tod ", r" tot ", r" umbring", r" blut", r" bewusstlos", r" ohnmacht",
           r" krankenwagen", r" tabletten ", r" missbrauch", r" gewalt", r" vergewalt", r" waffe", r" messer ", r" abstech",
           r" rache ", r" anwalt", r" gericht ", r" klage", r" polizei", r" anzeige", r" betrug", r" meine daten",
           r" gespeicherten daten"],
    "it": [r" suicid", r" morire", r" morte ", r" mort[oa] ", r" uccid", r" ammazz(?:o|a|are|arti|armi|arvi|ato|ata|ano|ero) ", r" sangue", r" svenu", r" svenire",
           r" incoscien", r" ambulanza", r" pastiglie ", r" pillole ", r" abus", r" violenza", r" stupr", r" coltello",
           r" pistola", r" vendetta", r" avvocat", r" tribunale", r" polizia", r" denunc", r" truffa", r" dati personali",
           r" miei dati "],
}
