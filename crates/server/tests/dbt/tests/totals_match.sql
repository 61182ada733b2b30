-- the table's totals add up to the seed's: no row is lost or doubled on the way
select 1
from (select sum(total) as t from {{ ref('customer_totals') }}) a
cross join (select sum(amount) as t from {{ ref('orders') }}) b
where a.t <> b.t
