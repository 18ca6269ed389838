# Perl hash churn: fill a hash of strings, delete most of it, refill, in rounds.
use strict;
my $rounds = $ARGV[0] // 4;
my $n = $ARGV[1] // 150000;
my %h;
my $check = 0;
for my $r (1 .. $rounds) {
  for my $i (1 .. $n) { $h{"k$r-$i"} = ("v" x ($i % 53)) . $i; }
  for my $k (keys %h) { delete $h{$k} if length($k) % 3; }
  $check += scalar(keys %h);
}
print "$check\n";
