select
    order_id,
    lower(customer) as customer,
    amount,
    ordered_at
from {{ ref('orders') }}
