"""Roles beside the judge: a panel of judges, a second-level reviewer, a cascade that
escalates the doubtful items to a stronger judge, and ``assemble``, which builds the right
one from the options. Each wraps judgings the way ``judging.debias`` wraps orders."""
